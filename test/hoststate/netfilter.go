package hoststate

import "strings"

// iptablesTools are the iptables dump tools, each recorded separately: the
// plain names may point at either the nft or the legacy backend, and a lab
// could leave rules in either.
var iptablesTools = [...]string{"iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save"}

func collectNftables() (string, error) {
	out, found, err := runTool("nft", "list", "ruleset")
	if err != nil {
		return "", err
	}
	if !found {
		return notInstalled("nft"), nil
	}
	return normalizeNft(out), nil
}

func collectIptables() (string, error) {
	var b strings.Builder
	for _, tool := range iptablesTools {
		out, found, err := runTool(tool)
		if err != nil {
			return "", err
		}
		if !found {
			b.WriteString(notInstalled(tool))
			continue
		}
		b.WriteString(normalizeIptables(tool, out))
	}
	return b.String(), nil
}

// splitTrailing separates a token from the punctuation nft glues to it inside
// element lists ("0," or "59m58s}"), so the value can be replaced and the
// punctuation kept.
func splitTrailing(tok string) (core, trail string) {
	core = strings.TrimRight(tok, ",;}])")
	return core, tok[len(core):]
}

// normalizeNft normalizes `nft list ruleset`. Values that traffic or time
// change without any ruleset change are replaced: counter packets/bytes,
// quota consumption ("used N bytes"), set element timeouts counting down
// ("expires 59m58s") and "last used" timestamps. Indentation is kept because
// it shows which table and chain a line belongs to.
func normalizeNft(out string) string {
	var lines []string
	for _, l := range splitLines(out) {
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			next, trail := splitTrailing(f[i+1])
			switch {
			case f[i] == "packets" && isDigits(next):
				f[i+1] = placeholder + trail
			case f[i] == "bytes" && isDigits(next) && i >= 2 && f[i-2] == "packets":
				f[i+1] = placeholder + trail
			case f[i] == "used" && i >= 1 && f[i-1] == "last":
				// "last used never" or "last used 1s500ms ago".
				if next == "never" {
					f[i+1] = placeholder + trail
				} else if i+2 < len(f) {
					if ago, agoTrail := splitTrailing(f[i+2]); ago == "ago" {
						f[i+1] = placeholder + agoTrail
						f[i+2] = "" // dropped below, so both forms read "last used _"
					}
				}
			case f[i] == "used" && isDigits(next):
				// Quota consumption, printed as "used N <unit>bytes".
				f[i+1] = placeholder + trail
				if i+2 < len(f) {
					if unit, unitTrail := splitTrailing(f[i+2]); strings.HasSuffix(unit, "bytes") {
						f[i+2] = placeholder + unitTrail
					}
				}
			case f[i] == "expires" && next != "":
				f[i+1] = placeholder + trail
			}
		}
		lines = append(lines, indent+joinNonEmpty(f))
	}
	return joinLines(lines)
}

// joinNonEmpty joins the fields left after normalization with single spaces.
func joinNonEmpty(f []string) string {
	kept := f[:0:0]
	for _, s := range f {
		if s != "" {
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, " ")
}

// normalizeIptables normalizes the output of one iptables *-save tool. Comment
// lines carry generation timestamps and version banners, and "[packets:bytes]"
// counters change with traffic. Each line is prefixed with the tool and the
// current table so that a diff line says where the rule lives.
func normalizeIptables(tool, out string) string {
	var lines []string
	table := ""
	for _, l := range splitLines(out) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "*") {
			table = strings.TrimPrefix(l, "*")
		}
		f := strings.Fields(l)
		for i, tok := range f {
			if isCounterPair(tok) {
				f[i] = "[" + placeholder + ":" + placeholder + "]"
			}
		}
		lines = append(lines, tool+" "+table+": "+strings.Join(f, " "))
	}
	return joinLines(lines)
}

// isCounterPair reports whether tok is an iptables-save counter "[N:M]".
func isCounterPair(tok string) bool {
	if !strings.HasPrefix(tok, "[") || !strings.HasSuffix(tok, "]") {
		return false
	}
	p, b, ok := strings.Cut(tok[1:len(tok)-1], ":")
	return ok && isDigits(p) && isDigits(b)
}
