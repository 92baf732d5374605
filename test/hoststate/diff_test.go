package hoststate

import (
	"strings"
	"testing"
)

func snap(sections map[string]string) Snapshot { return Snapshot{Sections: sections} }

func TestDiffEqual(t *testing.T) {
	a := snap(map[string]string{SectionRoutes: "inet default via 192.0.2.1 dev eth0\n", SectionNetns: "/run/netns: absent\n"})
	b := snap(map[string]string{SectionRoutes: "inet default via 192.0.2.1 dev eth0\n", SectionNetns: "/run/netns: absent\n"})
	if d := Diff(a, b); d != "" {
		t.Fatalf("Diff of equal snapshots = %q, want empty", d)
	}
	if d := Diff(snap(nil), snap(map[string]string{})); d != "" {
		t.Fatalf("Diff of empty snapshots = %q, want empty", d)
	}
}

func TestDiffNamesSectionAndChangedLine(t *testing.T) {
	before := snap(map[string]string{
		SectionRoutes: "inet default via 192.0.2.1 dev eth0\ninet 192.0.2.0/24 dev eth0\n",
		SectionRules:  "inet 0: from all lookup local\n",
	})
	after := snap(map[string]string{
		SectionRoutes: "inet default via 192.0.2.1 dev eth0\ninet 192.0.2.0/24 dev eth0\ninet 10.77.0.0/16 dev weft0\n",
		SectionRules:  "inet 0: from all lookup local\n",
	})
	d := Diff(before, after)
	for _, want := range []string{`section "routes" differs`, "+inet 10.77.0.0/16 dev weft0\n"} {
		if !strings.Contains(d, want) {
			t.Errorf("Diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, `"rules"`) {
		t.Errorf("Diff mentions the unchanged rules section:\n%s", d)
	}
}

func TestDiffMissingSection(t *testing.T) {
	before := snap(map[string]string{SectionNftables: "nft: not installed\n"})
	after := snap(map[string]string{})
	d := Diff(before, after)
	for _, want := range []string{`section "nftables" differs`, "(section missing after)", "-nft: not installed\n"} {
		if !strings.Contains(d, want) {
			t.Errorf("Diff lacks %q:\n%s", want, d)
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name   string
		before string
		after  string
		want   string
	}{
		{name: "equal", before: "a\nb\n", after: "a\nb\n", want: ""},
		{
			name:   "changed line with context",
			before: "1\n2\n3\n4\n5\n6\n7\n",
			after:  "1\n2\n3\nX\n5\n6\n7\n",
			want:   "@@ -2,5 +2,5 @@\n 2\n 3\n-4\n+X\n 5\n 6\n",
		},
		{
			name:   "insert into empty",
			before: "",
			after:  "new\n",
			want:   "@@ -0,0 +1,1 @@\n+new\n",
		},
		{
			name:   "delete all",
			before: "old\n",
			after:  "",
			want:   "@@ -1,1 +0,0 @@\n-old\n",
		},
		{
			name:   "two distant hunks",
			before: "a\n1\n2\n3\n4\n5\n6\nb\n",
			after:  "A\n1\n2\n3\n4\n5\n6\nB\n",
			want:   "@@ -1,3 +1,3 @@\n-a\n+A\n 1\n 2\n@@ -6,3 +6,3 @@\n 5\n 6\n-b\n+B\n",
		},
		{
			name:   "only final newline differs",
			before: "a\n",
			after:  "a",
			want:   "@@ -1,1 +1,1 @@\n-a\n+a\n\\ no newline at end of section\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := unifiedDiff(diffLines(tc.before), diffLines(tc.after)); got != tc.want {
				t.Errorf("unifiedDiff:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestEditScriptReconstructs checks the invariant every diff must satisfy:
// applying the script to before yields after.
func TestEditScriptReconstructs(t *testing.T) {
	pairs := [][2]string{
		{"a b c d e", "a x c d y e"},
		{"q w e r t y", "y t r e w q"},
		{"", "a b"},
		{"a a a b", "b a a a"},
	}
	for _, p := range pairs {
		a, b := strings.Fields(p[0]), strings.Fields(p[1])
		var gotA, gotB []string
		for _, e := range editScript(a, b) {
			if e.op != '+' {
				gotA = append(gotA, e.line)
			}
			if e.op != '-' {
				gotB = append(gotB, e.line)
			}
		}
		if strings.Join(gotA, " ") != p[0] || strings.Join(gotB, " ") != p[1] {
			t.Errorf("editScript(%q, %q) reconstructs %q, %q", p[0], p[1], gotA, gotB)
		}
	}
}
