package podfiles

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "B": "b", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$(A)", "a"},
		{"$(A)$(B)-$(A)", "ab-a"},
		{"$(EMPTY)x", "x"},
		{"$$(A)", "$(A)"},
		{"$$$(A)", "$a"},
		{"$$$$", "$$"},
		{"$(UNKNOWN)", "$(UNKNOWN)"},
		{"$()", "$()"},
		{"$(A", "$(A"},
		{"$($(A)", "$($(A)"},
		{"$(A$(B)", "$(A$(B)"},
		{"x$(A$(B)$(B)", "x$(A$(B)b"},
		{"$A", "$A"},
		{"a$", "a$"},
		{"$", "$"},
		{"$é$(A)", "$éa"},
		{"$\xff$(A)", "$\uFFFDa"},
	} {
		if got := expand(tt.in, lookup); got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
