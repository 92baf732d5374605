package policy

import (
	"net/netip"
	"slices"
)

// ruled is a box of an ordered rule: the verdict its rule gives whatever it covers, unless
// an earlier rule covers it first.
type ruled struct {
	box
	verdict string
}

// firstMatch turns ordered, overlapping boxes into disjoint ones, each with the verdict of
// the first box (in order) that covers it: the tiered policies' "first matching rule wins",
// written as elements of an interval verdict map. All boxes are of one family.
func firstMatch(in []ruled) []ruled {
	if len(in) == 0 {
		return nil
	}
	var addrs []netip.Addr
	var ports []int
	for _, b := range in {
		addrs = append(addrs, b.peer.lo)
		if n := b.peer.hi.Next(); n.IsValid() {
			addrs = append(addrs, n)
		}
		ports = append(ports, b.lo, b.hi+1)
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	addrs = slices.Compact(addrs)
	slices.Sort(ports)
	ports = slices.Compact(ports)
	last := prefixRange(netip.PrefixFrom(in[0].peer.lo, 0)).hi
	var out, prevRow []ruled
	for k, lo := range addrs {
		hi := last
		if k+1 < len(addrs) {
			hi = addrs[k+1].Prev()
		}
		var row []ruled
		for j := 0; j+1 < len(ports); j++ {
			plo, phi := ports[j], ports[j+1]-1
			i := slices.IndexFunc(in, func(b ruled) bool { return b.peer.contains(lo) && b.lo <= plo && phi <= b.hi })
			if i < 0 {
				continue
			}
			if n := len(row); n > 0 && row[n-1].hi+1 == plo && row[n-1].verdict == in[i].verdict {
				row[n-1].hi = phi
				row[n-1].from = union(row[n-1].from, in[i].from)
				continue
			}
			row = append(row, ruled{box: box{peer: addrRange{lo, hi}, lo: plo, hi: phi, from: slices.Clone(in[i].from)}, verdict: in[i].verdict})
		}
		// A row like the one before it, right after it, widens that one's addresses.
		if len(row) > 0 && sameRow(prevRow, row) && prevRow[0].peer.hi.Next() == lo {
			for i := range prevRow {
				prevRow[i].peer.hi = hi
				prevRow[i].from = union(prevRow[i].from, row[i].from)
			}
			continue
		}
		out = append(out, prevRow...)
		prevRow = row
	}
	return append(out, prevRow...)
}

func sameRow(a, b []ruled) bool {
	return slices.EqualFunc(a, b, func(x, y ruled) bool { return x.lo == y.lo && x.hi == y.hi && x.verdict == y.verdict })
}
