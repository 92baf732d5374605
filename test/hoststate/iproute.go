package hoststate

import "strings"

// Families are labelled with the words ip itself uses, and every line of a
// two-family section is prefixed with its label so a diff line is
// self-explanatory.
const (
	familyInet  = "inet"
	familyInet6 = "inet6"
)

func collectLinks() (string, error) {
	out, found, err := runTool("ip", "-d", "-o", "link", "show")
	if err != nil {
		return "", err
	}
	if !found {
		return notInstalled("ip"), nil
	}
	return normalizeLinks(out), nil
}

func collectAddresses() (string, error) {
	out, found, err := runTool("ip", "-o", "addr", "show")
	if err != nil {
		return "", err
	}
	if !found {
		return notInstalled("ip"), nil
	}
	return normalizeAddresses(out), nil
}

func collectRoutes() (string, error) {
	return collectPerFamily(normalizeRoutes, "route", "show", "table", "all")
}

func collectRules() (string, error) {
	return collectPerFamily(normalizeRules, "rule", "show")
}

// collectPerFamily runs `ip -o -4 ARGS` and `ip -o -6 ARGS` and concatenates
// the normalized outputs.
func collectPerFamily(normalize func(family, out string) string, args ...string) (string, error) {
	var b strings.Builder
	for _, fam := range []struct{ flag, label string }{{"-4", familyInet}, {"-6", familyInet6}} {
		out, found, err := runTool("ip", append([]string{"-o", fam.flag}, args...)...)
		if err != nil {
			return "", err
		}
		if !found {
			return notInstalled("ip"), nil
		}
		b.WriteString(normalize(fam.label, out))
	}
	return b.String(), nil
}

// normalizeLinks normalizes `ip -d -o link show`. Bridges and bridge ports
// report running STP/GC timers (hello_timer, gc_timer, forward_delay_timer,
// ...) that tick on their own; only their values are replaced. Everything
// else, including ifindex, qlen (the configured txqueuelen), promiscuity and
// operational state, is configuration or state a test must see restored.
func normalizeLinks(out string) string {
	var lines []string
	for _, l := range splitLines(out) {
		f := onelineFields(l)
		for i := 0; i+1 < len(f); i++ {
			if strings.HasSuffix(f[i], "_timer") {
				f[i+1] = placeholder
				i++
			}
		}
		lines = append(lines, strings.Join(f, " "))
	}
	return joinLines(lines)
}

// normalizeAddresses normalizes `ip -o addr show`. Finite valid_lft and
// preferred_lft values count down every second; "forever" is kept because
// permanent versus expiring is a real property of the address.
func normalizeAddresses(out string) string {
	var lines []string
	for _, l := range splitLines(out) {
		f := onelineFields(l)
		for i := 0; i+1 < len(f); i++ {
			if (f[i] == "valid_lft" || f[i] == "preferred_lft") && f[i+1] != "forever" {
				f[i+1] = placeholder
				i++
			}
		}
		lines = append(lines, strings.Join(f, " "))
	}
	return joinLines(lines)
}

// routeArgKeywords are route keywords followed by a free-form name, so a
// device or table that happens to be called "cache" or "expires" is not
// mistaken for the keyword.
var routeArgKeywords = map[string]bool{
	"dev": true, "table": true, "proto": true, "iif": true, "oif": true, "realms": true,
}

// normalizeRoutes normalizes `ip -o route show table all` for one family.
// Cached (cloned/exception) entries come and go with traffic and PMTU
// discovery, so they are dropped; the values of "expires N" and "age N" count
// down and are replaced.
func normalizeRoutes(family, out string) string {
	var lines []string
	for _, l := range splitLines(out) {
		f := onelineFields(l)
		kept := make([]string, 0, len(f)+1)
		kept = append(kept, family)
		cached := false
		for i := 0; i < len(f); i++ {
			keyword := i == 0 || !routeArgKeywords[f[i-1]]
			switch {
			case keyword && f[i] == "cache":
				cached = true
			case keyword && (f[i] == "expires" || f[i] == "age") && i+1 < len(f):
				// The keyword stays: expiring versus permanent is real.
				kept = append(kept, f[i], placeholder)
				i++
			default:
				kept = append(kept, f[i])
			}
		}
		if !cached {
			lines = append(lines, strings.Join(kept, " "))
		}
	}
	return joinLines(lines)
}

// normalizeRules normalizes `ip -o rule show` for one family. Rules hold no
// self-changing values; order is kept because rules sharing a priority are
// evaluated in list order.
func normalizeRules(family, out string) string {
	var lines []string
	for _, l := range splitLines(out) {
		lines = append(lines, family+" "+strings.Join(onelineFields(l), " "))
	}
	return joinLines(lines)
}
