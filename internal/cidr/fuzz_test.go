package cidr

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzMerge checks Merge's promises on any list of prefixes: the result is sorted, masked and
// free of overlaps, and covers exactly the addresses the input covers. Coverage is the same
// everywhere if it is the same at every edge of every prefix of both lists and just past it,
// since it can only change at those addresses. The seeds are in testdata/fuzz/FuzzMerge.
func FuzzMerge(f *testing.F) {
	f.Add("10.96.0.0/28,10.96.0.0/24")
	f.Fuzz(func(t *testing.T, list string) {
		var in []netip.Prefix
		for _, s := range strings.Split(list, ",") {
			if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
				in = append(in, p)
			}
		}
		out := Merge(in)
		for i, p := range out {
			if p != p.Masked() {
				t.Fatalf("Merge(%v): %s is not masked", in, p)
			}
			if i > 0 && (out[i-1].Addr().Compare(p.Addr()) >= 0 || contains(out[i-1], p) || contains(p, out[i-1])) {
				t.Fatalf("Merge(%v) = %v: %s and %s are out of order or overlap", in, out, out[i-1], p)
			}
		}
		var probes []netip.Addr
		for _, p := range append(append([]netip.Prefix(nil), in...), out...) {
			first, last := p.Masked().Addr(), lastAddr(p)
			probes = append(probes, first, first.Prev(), last, last.Next())
		}
		for _, a := range probes {
			if a.IsValid() && covers(in, a) != covers(out, a) {
				t.Fatalf("Merge(%v) = %v: %s covered by the input %v, by the result %v", in, out, a, covers(in, a), covers(out, a))
			}
		}
	})
}

func covers(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
