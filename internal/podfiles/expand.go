package podfiles

import (
	"strings"
	"unicode/utf8"
)

// expand resolves $(NAME) references in an env value the way the kubelet
// does: "$$" is a literal "$"; $(NAME) with no value known stays verbatim;
// an unclosed "$(" is kept and scanning resumes after it; "$" before any
// other rune is kept with that rune (an invalid UTF-8 byte there becomes
// U+FFFD, as in the kubelet); a final lone "$" is kept.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i += 2
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end + 1
		default:
			r, size := utf8.DecodeRuneInString(s[i+1:])
			b.WriteByte('$')
			b.WriteRune(r)
			i += 1 + size
		}
	}
	return b.String()
}
