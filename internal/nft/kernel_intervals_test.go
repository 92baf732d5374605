package nft

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/netns/netnstest"
)

// policyShaped is a skeleton like NetworkPolicy's: interval sets of one field and of
// concatenations, interval verdict maps, and a plain set, every element with a comment.
func policyShaped() *Contents {
	c := NewContents()
	c.AddChain(&Chain{Name: "np", Comment: "where a Pass goes", Rules: []Rule{{Text: "counter drop", Comment: "nothing allowed"}}})
	c.AddSet(&Set{Name: "gated", Type: "ipv4_addr", Flags: []string{"interval"}})
	c.AddSet(&Set{Name: "known", Type: "ipv4_addr"})
	c.AddSet(&Set{Name: "any", Type: "ipv4_addr . ipv4_addr", Flags: []string{"interval"}})
	c.AddSet(&Set{Name: "ports", Type: "ipv4_addr . ipv4_addr . inet_proto . inet_service : verdict", Flags: []string{"interval"}})
	c.AddSet(&Set{Name: "ports6", Type: "ipv6_addr . ipv6_addr . inet_proto . inet_service : verdict", Flags: []string{"interval"}})
	return c
}

// podElements are what one pod's policies put in the sets; verdict varies one element.
func podElements(pod, peer, verdict, comment string) *Contents {
	c := NewContents()
	c.AddElements(
		&Element{Set: "known", Key: []string{pod}, Comment: "x/" + pod},
		&Element{Set: "any", Key: []string{pod, "10.42.2.2/31"}, Comment: comment},
		&Element{Set: "any", Key: []string{pod, "10.42.0.0-10.42.2.1"}, Comment: comment},
		&Element{Set: "ports", Key: []string{pod, peer, "tcp", "80"}, Value: []string{verdict}, Comment: "cnp pass-80 ingress 0"},
		&Element{Set: "ports", Key: []string{pod, peer, "tcp", "81-65535"}, Value: []string{"drop"}, Comment: "cnp deny ingress 0"},
		&Element{Set: "ports", Key: []string{pod, "10.0.0.0/8", "udp", "0-65535"}, Value: []string{"return"}, Comment: "cnp accept ingress 1"},
		&Element{Set: "ports6", Key: []string{"2001:cafe:42::" + strings.ReplaceAll(pod, ".", ":"), "2001:cafe:42:2::/64", "sctp", "0-79"}, Value: []string{"return"}},
	)
	return c
}

func gate(ranges ...string) *Contents {
	c := NewContents()
	for _, r := range ranges {
		c.AddElements(&Element{Set: "gated", Key: []string{r}, Comment: "pod range " + r})
	}
	return c
}

// elementsOf is a listing's lines sorted, each element on a line of its own after its set's
// name: nft prints elements in the order the kernel keeps them, which says nothing.
func elementsOf(listing string) string {
	var out []string
	set, inElements := "", false
	for _, line := range strings.Split(listing, "\n") {
		line = strings.TrimSpace(line)
		if f := strings.Fields(line); len(f) > 1 && (f[0] == "set" || f[0] == "map") {
			set = f[1]
		}
		if rest, ok := strings.CutPrefix(line, "elements = { "); ok {
			line, inElements = rest, true
		}
		if !inElements {
			out = append(out, line)
			continue
		}
		line, closed := strings.CutSuffix(line, " }")
		inElements = !closed
		for _, e := range strings.Split(line, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, set+": "+e)
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// Interval elements (ranges of one field, boxes of concatenations), the return verdict and
// element comments: what netlink writes, nft lists exactly as what nft wrote, and each side's
// comparison finds the other's table unchanged.
func TestKernelIntervalsAndComments(t *testing.T) {
	byNFT, byNetlink := netnstest.Scratch(t, "nftk-nft"), netnstest.Scratch(t, "nftk-nl")
	ctx := context.Background()
	kNFT, err := New(InetFamily, "weft-test", netns.Path(byNFT))
	if err != nil {
		t.Fatal(err)
	}
	kNL, err := New(InetFamily, "weft-test", netns.Path(byNetlink))
	if err != nil {
		t.Fatal(err)
	}
	nl := NewTable(kNL, "weft: a test")
	nl.Set("skeleton", policyShaped())
	if _, err := nl.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		what   string
		owners map[string]*Contents
	}{
		{"two pods and the gate", map[string]*Contents{
			"gate":    gate("10.42.1.0/24", "10.42.9.0-10.42.9.127", "255.255.255.0/24"),
			"pod x/a": podElements("10.42.1.2", "10.42.2.2", "goto np", "x/from-y ingress 0"),
			"pod x/b": podElements("10.42.1.3", "10.42.2.3", "goto np", "x/from-y ingress 0"),
		}},
		{"a verdict and a comment change, a range of the gate goes", map[string]*Contents{
			"gate":    gate("10.42.1.0/24", "255.255.255.0/24"),
			"pod x/a": podElements("10.42.1.2", "10.42.2.2", "return", "x/from-y ingress 0"),
			"pod x/b": podElements("10.42.1.3", "10.42.2.3", "goto np", "x/other ingress 1"),
		}},
		{"a pod goes", map[string]*Contents{
			"gate":    gate("10.42.1.0/24", "255.255.255.0/24"),
			"pod x/a": podElements("10.42.1.2", "10.42.2.2", "return", "x/from-y ingress 0"),
			"pod x/b": nil,
		}},
	}
	for _, step := range steps {
		// The same contents: one namespace's table written whole through nft (a fresh Table
		// finds the kernel's table differs and rewrites it), the other's changed over netlink.
		whole := NewTable(kNFT, "weft: a test")
		whole.Set("skeleton", policyShaped())
		for owner, c := range step.owners {
			nl.Set(owner, c)
			whole.Set(owner, c)
		}
		if tx, err := whole.Sync(ctx, false); err != nil || tx == nil || tx.ElementsOnly() {
			t.Fatalf("%s: want the table written whole through nft; sent %v, %v", step.what, tx, err)
		}
		before := kNL.(*realKernel).swaps
		tx, err := nl.Sync(ctx, false)
		if err != nil {
			t.Fatalf("%s: %v\nsent:\n%s", step.what, err, tx)
		}
		if !tx.ElementsOnly() || kNL.(*realKernel).swaps != before+1 {
			t.Fatalf("%s: want one element transaction over netlink, sent:\n%s", step.what, tx)
		}
		got, want := listTable(t, byNetlink), listTable(t, byNFT)
		if elementsOf(got) != elementsOf(want) {
			t.Errorf("%s: netlink's table lists otherwise than nft's:\n--- netlink\n%s\n--- nft\n%s", step.what, got, want)
		}
		// Each side's comparison reads the other's writing as its own: a full sync sends nothing.
		if tx, err := nl.Sync(ctx, true); err != nil || tx != nil {
			t.Errorf("%s: a full sync of the table netlink wrote sent %v, %v", step.what, tx, err)
		}
		if tx, err := whole.Sync(ctx, true); err != nil || tx != nil {
			t.Errorf("%s: a full sync of the table nft wrote sent %v, %v", step.what, tx, err)
		}
	}
	// Someone changes an element by hand: a full sync finds it and rewrites the table.
	for _, cmd := range []string{
		"delete element inet weft-test ports { 10.42.1.2 . 10.42.2.2 . tcp . 80 }",
		"delete element inet weft-test gated { 255.255.255.0/24 }",
		"delete element inet weft-test any { 10.42.1.2 . 10.42.2.2/31 }",
		`delete element inet weft-test known { 10.42.1.2 } ; add element inet weft-test known { 10.42.1.2 comment "someone else" }`,
	} {
		if out, err := exec.Command("ip", "netns", "exec", byNetlink, "nft", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		if tx, err := nl.Sync(ctx, true); err != nil || tx == nil || !strings.HasPrefix(tx.String(), "add table") {
			t.Errorf("after %q, want the table rewritten; sent %v, %v", cmd, tx, err)
		}
	}
	for _, s := range []string{`10.42.1.2 . 10.42.2.2 . tcp . 80 comment "cnp pass-80 ingress 0" : return`, `10.42.1.2 . 10.42.2.2/31 comment "x/from-y ingress 0"`,
		`10.42.1.2 . 10.0.0.0/8 . udp . 0-65535 comment "cnp accept ingress 1" : return`, `255.255.255.0/24 comment "pod range 255.255.255.0/24"`,
		`2001:cafe:42:0:10:42:1:2 . 2001:cafe:42:2::/64 . sctp . 0-79 : return`} {
		if got := listTable(t, byNetlink); !strings.Contains(got, s) {
			t.Errorf("the table lacks %q:\n%s", s, got)
		}
	}
}

// A policy-shaped table the kernel does not hold yet is written in stages, its elements over
// netlink in many messages and transactions (a range's start and end kept together); nft lists
// it as it lists the same table written in one transaction through nft.
func TestStagedIntervalsAndComments(t *testing.T) {
	staged, whole := netnstest.Scratch(t, "nftk-staged"), netnstest.Scratch(t, "nftk-whole")
	// A table there already (with the comment an existing table keeps): written in one transaction.
	if out, err := exec.Command("ip", "netns", "exec", whole, "nft", `add table inet weft-test { comment "weft: a test" ; }`).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var ranges []string
	for i := range 1000 {
		ranges = append(ranges, fmt.Sprintf("10.%d.%d.0/24", 100+i>>8, i&255))
	}
	owners := map[string]*Contents{"skeleton": policyShaped(), "gate": gate(ranges...)}
	for i := range 500 {
		pod := fmt.Sprintf("10.42.%d.%d", 1+i>>8, i&255)
		owners["pod "+pod] = podElements(pod, "10.42.200.2", "goto np", "x/from-y ingress 0")
	}
	listings := map[string]string{}
	for _, ns := range []string{staged, whole} {
		k, err := New(InetFamily, "weft-test", netns.Path(ns))
		if err != nil {
			t.Fatal(err)
		}
		tbl, again := NewTable(k, "weft: a test"), NewTable(k, "weft: a test")
		for o, c := range owners {
			tbl.Set(o, c)
			again.Set(o, c)
		}
		tx, err := tbl.Sync(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		if tx.staged != (ns == staged) {
			t.Fatalf("%s: the sync was staged %v", ns, tx.staged)
		}
		if tx, err := again.Sync(context.Background(), false); err != nil || tx != nil {
			t.Errorf("%s: the kernel does not hold the table: sent %v, %v", ns, tx, err)
		}
		listings[ns] = elementsOf(listTable(t, ns))
	}
	if listings[staged] != listings[whole] {
		t.Errorf("the staged table lists otherwise than the one written whole through nft")
	}
	if n := strings.Count(listings[staged], "\n"); n < 4000 {
		t.Errorf("the table lists %d lines, want the 4000 and more elements", n)
	}
}
