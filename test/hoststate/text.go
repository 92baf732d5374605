package hoststate

import "strings"

// placeholder replaces a value that changes by itself.
const placeholder = "_"

// splitLines returns the non-blank lines of s without trailing whitespace.
// Blank lines carry no state, and trailing blanks vary between tool versions.
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// joinLines is the inverse of splitLines: one line per entry, each ending in
// a newline, so that concatenated sections stay line-aligned.
func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// onelineFields splits one line of `ip -o` output into fields. In oneline
// mode ip replaces the newlines of its multi-line records with a backslash,
// which is layout rather than content.
func onelineFields(line string) []string {
	return strings.Fields(strings.ReplaceAll(line, `\`, " "))
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
