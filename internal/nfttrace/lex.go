package nfttrace

import (
	"fmt"
	"strings"
)

// lex splits nft text into tokens. nft's own grammar is context dependent; this one only has
// to separate what weft and `nft list` write: words split on blanks, braces always on their
// own, and commas split only inside braces, so that `ct state new,established` and
// `masquerade random,persistent` stay one token while `{ a, b }` does not. A lone `:` and a
// trailing `:` inside braces separate a map key from its value; a colon inside a word is an
// IPv6 address or an address:port and stays. Quoted strings are one token, quotes kept.
func lex(s string) ([]string, error) {
	var toks []string
	depth := 0
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			// `nft -a list` annotates rules with `# handle N`: the rest of the line is not
			// the rule.
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		case c == '{':
			depth++
			toks = append(toks, "{")
			i++
		case c == '}':
			if depth == 0 {
				return nil, fmt.Errorf("unbalanced '}' at offset %d", i)
			}
			depth--
			toks = append(toks, "}")
			i++
		case c == ',' && depth > 0:
			toks = append(toks, ",")
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r{}\"#", rune(s[j])) && (depth == 0 || s[j] != ',') {
				j++
			}
			toks = append(toks, splitColon(s[i:j], depth > 0)...)
			i = j
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced '{'")
	}
	return toks, nil
}

// splitColon separates `0:` into `0` and `:` inside braces; `2001:db8::` keeps its colons
// because a word holding another colon is an address, not a key.
func splitColon(w string, inBraces bool) []string {
	if !inBraces || len(w) < 2 || !strings.HasSuffix(w, ":") || strings.Contains(w[:len(w)-1], ":") {
		return []string{w}
	}
	return []string{w[:len(w)-1], ":"}
}
