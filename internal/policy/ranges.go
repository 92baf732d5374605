package policy

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// addrRange is an inclusive range of addresses of one family: what an ipBlock minus its
// excepts, or a single pod address, becomes in an interval set.
type addrRange struct{ lo, hi netip.Addr }

func single(a netip.Addr) addrRange { return addrRange{a, a} }

func prefixRange(p netip.Prefix) addrRange {
	p = p.Masked()
	lo := p.Addr()
	b := lo.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	hi, _ := netip.AddrFromSlice(b)
	return addrRange{lo, hi}
}

func (r addrRange) contains(a netip.Addr) bool {
	return r.lo.Is4() == a.Is4() && r.lo.Compare(a) <= 0 && a.Compare(r.hi) <= 0
}

// String is the range as nft reads it: one address, a prefix when it is one, else lo-hi.
func (r addrRange) String() string {
	if r.lo == r.hi {
		return r.lo.String()
	}
	for bits := 0; bits <= r.lo.BitLen(); bits++ {
		p := netip.PrefixFrom(r.lo, bits)
		if p.Masked().Addr() == r.lo && prefixRange(p).hi == r.hi {
			return p.String()
		}
	}
	return r.lo.String() + "-" + r.hi.String()
}

// subtract removes cut from every range in rs.
func subtract(rs []addrRange, cut addrRange) []addrRange {
	var out []addrRange
	for _, r := range rs {
		if r.lo.Is4() != cut.lo.Is4() || cut.hi.Less(r.lo) || r.hi.Less(cut.lo) {
			out = append(out, r)
			continue
		}
		if r.lo.Less(cut.lo) {
			out = append(out, addrRange{r.lo, cut.lo.Prev()})
		}
		if cut.hi.Less(r.hi) {
			out = append(out, addrRange{cut.hi.Next(), r.hi})
		}
	}
	return out
}

// box is one allowed (peer addresses x destination ports) area of one subject address and
// protocol, with the policy rules it came from (for the element's comment).
type box struct {
	peer   addrRange
	lo, hi int // ports, inclusive
	from   []string
}

// disjoint turns overlapping boxes (several policies allowing overlapping peers and ports)
// into boxes that do not overlap and cover the same area: nftables refuses overlapping
// elements in an interval set. Ports are cut at every box edge; in each cut the peer ranges
// are merged; neighbouring cuts with the same peer ranges join again.
func disjoint(in []box) []box {
	if len(in) == 0 {
		return nil
	}
	var edges []int
	for _, b := range in {
		edges = append(edges, b.lo, b.hi+1)
	}
	slices.Sort(edges)
	edges = slices.Compact(edges)
	var out, prev []box
	for i := 0; i+1 < len(edges); i++ {
		lo, hi := edges[i], edges[i+1]-1
		var cover []box
		for _, b := range in {
			if b.lo <= lo && hi <= b.hi {
				cover = append(cover, box{peer: b.peer, lo: lo, hi: hi, from: b.from})
			}
		}
		merged := mergePeers(cover)
		if len(prev) > 0 && samePeers(prev, merged) && prev[0].hi+1 == lo {
			for j := range prev {
				prev[j].hi = hi
				prev[j].from = union(prev[j].from, merged[j].from)
			}
			continue
		}
		out = append(out, prev...)
		prev = merged
	}
	return append(out, prev...)
}

// mergePeers merges the overlapping or adjacent peer ranges of boxes that share their ports.
func mergePeers(bs []box) []box {
	sort.Slice(bs, func(i, j int) bool { return bs[i].peer.lo.Less(bs[j].peer.lo) })
	var out []box
	for _, b := range bs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if !last.peer.hi.Less(b.peer.lo) || last.peer.hi.Next() == b.peer.lo {
				if last.peer.hi.Less(b.peer.hi) {
					last.peer.hi = b.peer.hi
				}
				last.from = union(last.from, b.from)
				continue
			}
		}
		b.from = slices.Clone(b.from)
		out = append(out, b)
	}
	return out
}

func samePeers(a, b []box) bool {
	return slices.EqualFunc(a, b, func(x, y box) bool { return x.peer == y.peer })
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func portText(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
}

// comment names the policy rules behind an element, within nftables' 128 bytes.
func comment(from []string) string {
	s := strings.Join(from, ", ")
	if len(s) <= 120 {
		return s
	}
	cut := strings.LastIndex(s[:110], ", ")
	if cut < 0 {
		cut = 110
	}
	return s[:cut] + " and more"
}
