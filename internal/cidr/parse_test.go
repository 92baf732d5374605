package cidr

import (
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{name: "one", in: "10.42.0.0/16", want: "10.42.0.0/16"},
		{name: "dual-stack", in: "10.42.0.0/16,2001:cafe:42::/56", want: "10.42.0.0/16,2001:cafe:42::/56"},
		{name: "spaces", in: " 10.42.0.0/16 , 10.43.0.0/16", want: "10.42.0.0/16,10.43.0.0/16"},
		{name: "not a CIDR", in: "10.42.0.0", err: `"10.42.0.0" is not a CIDR: write it like 10.42.0.0/16 or 2001:cafe:42::/56`},
		{name: "empty", in: "", err: `"" is not a CIDR`},
		{name: "host bits", in: "10.42.0.1/16", err: "10.42.0.1/16 has host bits set: did you mean 10.42.0.0/16?"},
		{name: "every bad entry", in: "x,10.42.0.0/16,10.43.0.1/16", err: "\"x\" is not a CIDR: write it like 10.42.0.0/16 or 2001:cafe:42::/56\n10.43.0.1/16 has host bits set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseList(strings.Split(tc.in, ","))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || got != nil {
					t.Errorf("ParseList(%q) = %v, %v; want no networks and an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || Join(got) != tc.want {
				t.Errorf("ParseList(%q) = %s, %v; want %s", tc.in, Join(got), err, tc.want)
			}
		})
	}
}

// FuzzParseList checks ParseList's promises on any text: it either fails and returns nothing, or
// returns one masked, valid network per entry that reads back the same from its own text. The
// seeds are in testdata/fuzz/FuzzParseList.
func FuzzParseList(f *testing.F) {
	f.Add("10.42.0.0/16,2001:cafe:42::/56")
	f.Fuzz(func(t *testing.T, text string) {
		fields := strings.Split(text, ",")
		got, err := ParseList(fields)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseList(%q) failed (%v) but returned %v", text, err, got)
			}
			return
		}
		if len(got) != len(fields) {
			t.Fatalf("ParseList(%q) = %v: %d networks for %d entries", text, got, len(got), len(fields))
		}
		for _, p := range got {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("ParseList(%q) returned %s", text, p)
			}
			if back, err := Parse(p.String()); err != nil || back != p {
				t.Fatalf("%s reads back as %s, %v", p, back, err)
			}
		}
	})
}
