package nft

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
)

// A full sync mostly finds the kernel's table as the last sync left it: a periodic repair on
// a node nobody touched. Rewriting a table of 10k services takes nft seconds; reading it
// back over netlink and comparing takes a fraction of that. So a full sync in place first
// asks the kernel whether it still holds what was written, and writes only when it does not.
//
// What is compared: the chains by name, each chain's rules by number and comment (every rule
// weft writes says what it is for, so a rule deleted, added or moved shows; a rule rewritten in
// place under the same comment does not), the sets and maps by name and flags, and the
// elements of every set and map but the dynamic ones (which packets fill) by their bytes
// (an interval set's as the kernel keeps them, intervals.go), values and comments.

// written is what the table wrote last, by kind, for a Kernel to compare with what it holds.
type written struct {
	chains   map[string]*Chain
	sets     map[string]*Set
	elements map[string][]*Element // by set
}

func (t *Table) snapshot() written { return snapshotOf(t.written) }

// wantedSnapshot is what the owners want now, in the same form.
func (t *Table) wantedSnapshot() written {
	objs := make(map[objectID]any, len(t.holders))
	for id := range t.holders {
		objs[id] = t.wanted(id)
	}
	return snapshotOf(objs)
}

func snapshotOf(objs map[objectID]any) written {
	w := written{chains: map[string]*Chain{}, sets: map[string]*Set{}, elements: map[string][]*Element{}}
	for id, obj := range objs {
		switch o := obj.(type) {
		case *Chain:
			w.chains[id.name] = o
		case *Set:
			w.sets[id.name] = o
		case *Element:
			w.elements[o.Set] = append(w.elements[o.Set], o)
		}
	}
	return w
}

// holds compares the kernel's table with w over netlink; a difference is false, not an error.
func (n *netlinkElements) holds(snapshot func() written) (bool, error) {
	if err := n.connect(); err != nil {
		return false, err
	}
	chains, err := n.conn.ListChainsOfTableFamily(n.table.Family)
	if err != nil {
		return false, n.reset(err)
	}
	if found, err := n.hasTable(); err != nil || !found {
		return false, err // no table: nothing to compare, and asking for its sets would fail
	}
	w := snapshot() // after the listing: without a table there is nothing to compare
	seen := 0
	for _, c := range chains {
		if c.Table == nil || c.Table.Name != n.table.Name {
			continue
		}
		want, ok := w.chains[c.Name]
		if !ok {
			return false, nil
		}
		seen++
		rules, err := n.conn.GetRules(n.table, c)
		if err != nil {
			return false, n.reset(err)
		}
		if len(rules) != len(want.Rules) {
			return false, nil
		}
		for i, r := range rules {
			if ruleComment(r.UserData) != want.Rules[i].Comment {
				return false, nil
			}
		}
	}
	if seen != len(w.chains) {
		return false, nil
	}
	sets, err := n.conn.GetSets(n.table)
	if err != nil {
		return false, n.reset(err)
	}
	seen = 0
	for _, s := range sets {
		if s.Anonymous {
			continue
		}
		want, ok := w.sets[s.Name]
		if !ok || want.IsMap() != s.IsMap || want.has("interval") != s.Interval || want.dynamic() != s.Dynamic {
			return false, nil
		}
		seen++
		if want.dynamic() {
			continue
		}
		got, err := n.conn.GetSetElements(s)
		if err != nil {
			return false, n.reset(err)
		}
		same, err := n.sameElements(want, got, w.elements[s.Name])
		if err != nil || !same {
			return false, err
		}
	}
	return seen == len(w.sets), nil
}

// sameElements compares a set's elements in the kernel with those written: by their bytes,
// values and comments.
func (n *netlinkElements) sameElements(s *Set, got []nftables.SetElement, want []*Element) (bool, error) {
	interval := s.has("interval")
	if !interval && len(got) != len(want) {
		return false, nil
	}
	var have map[string]string
	var wanted []nftables.SetElement
	if !interval {
		have = make(map[string]string, len(got))
		for _, e := range got {
			have[string(e.Key)] = elementText(e)
		}
	}
	for _, e := range want {
		enc, err := n.encode(e, s, true)
		if err == errNeedsNFT {
			return false, nil // a type this side cannot encode: rewrite rather than guess
		}
		if err != nil {
			return false, err
		}
		if interval {
			wanted = append(wanted, enc...)
		} else if v, ok := have[string(enc[0].Key)]; !ok || v != elementText(enc[0]) {
			return false, nil
		}
	}
	return !interval || sameIntervals(got, wanted), nil
}

// elementText is what is compared of an element besides its key: its value and comment.
func elementText(e nftables.SetElement) string { return elementValue(e) + "\x00" + e.Comment }

// elementValue is an element's value in a form to compare: its bytes, or its verdict. A
// listing hands a verdict back as its netlink attributes, undecoded.
func elementValue(e nftables.SetElement) string {
	if e.VerdictData != nil {
		return fmt.Sprintf("verdict %d %s", e.VerdictData.Kind, e.VerdictData.Chain)
	}
	if code, chain, ok := verdictAttributes(e.Val); ok {
		return fmt.Sprintf("verdict %d %s", code, chain)
	}
	return string(e.Val)
}

// verdictAttributes reads NFTA_VERDICT_CODE (a big-endian int32) and NFTA_VERDICT_CHAIN from
// a map element's data.
func verdictAttributes(b []byte) (code int32, chain string, ok bool) {
	var haveCode bool
	for len(b) >= 4 {
		n, typ := int(binary.NativeEndian.Uint16(b)), binary.NativeEndian.Uint16(b[2:])&0x3fff
		if n < 4 || n > len(b) {
			return 0, "", false
		}
		data := b[4:n]
		switch typ {
		case 1:
			if len(data) != 4 {
				return 0, "", false
			}
			code, haveCode = int32(binary.BigEndian.Uint32(data)), true
		case 2:
			chain = strings.TrimRight(string(data), "\x00")
		default:
			return 0, "", false
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return code, chain, haveCode
}

// ruleComment reads a rule's comment from its user data, as nft stores it: a type byte (0
// for the comment), a length byte, and the text with its terminating NUL.
func ruleComment(ud []byte) string {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return ""
		}
		if typ == 0 {
			return strings.TrimRight(string(ud[2:2+n]), "\x00")
		}
		ud = ud[2+n:]
	}
	return ""
}

// has says whether s has flag f.
func (s *Set) has(f string) bool { return slices.Contains(s.Flags, f) }

// holds is the fake's comparison: the table it holds against one written afresh from w.
func (f *Fake) holds(ctx context.Context, snapshot func() written) (bool, error) {
	if f.Fake.Table == nil {
		return false, nil
	}
	w := snapshot()
	fresh := NewFake(f.family, f.name)
	t := NewTable(fresh, "")
	c := NewContents()
	for _, ch := range w.chains {
		c.AddChain(ch)
	}
	for _, s := range w.sets {
		c.AddSet(s)
	}
	for _, es := range w.elements {
		for _, e := range es {
			c.Elements[e.id()] = e
		}
	}
	t.Set("", c)
	t.fresh = true // written whole, without asking the fresh fake what it holds
	if _, err := t.Sync(ctx, true); err != nil {
		return false, err
	}
	return sortedDump(f.Dump()) == sortedDump(fresh.Dump()), nil
}

// sortedDump puts a dump's lines in order, table line aside: the fake keeps elements in the
// order they came, which says nothing of what the table holds.
func sortedDump(dump string) string {
	var lines []string
	for _, l := range strings.Split(dump, "\n") {
		if !strings.HasPrefix(l, "add table ") {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
