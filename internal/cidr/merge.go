package cidr

import (
	"cmp"
	"net/netip"
	"slices"
)

// Merge returns the addresses ps cover as prefixes that do not overlap: each masked, duplicates
// and prefixes inside another dropped, sorted by address (IPv4 first). Interval sets written
// without auto-merge refuse overlapping elements, and the cluster's ranges overlap by design:
// Kubernetes' own example adds ServiceCIDR 10.96.0.0/24 over a full 10.96.0.0/28, and a
// --no-masquerade-cidr may cover the pod range. Adjacent prefixes stay apart: they do not
// overlap, and joining them could make a range no prefix can spell. Invalid prefixes are
// dropped.
func Merge(ps []netip.Prefix) []netip.Prefix {
	sorted := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if p.IsValid() {
			sorted = append(sorted, p.Masked())
		}
	}
	// By address, and among equal addresses the widest first: then a prefix can only be
	// inside the last one kept, never inside one further back.
	slices.SortFunc(sorted, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	out := sorted[:0]
	for _, p := range sorted {
		if n := len(out); n > 0 && contains(out[n-1], p) {
			continue
		}
		out = append(out, p)
	}
	return slices.Clip(out)
}

// contains says whether inner lies wholly inside outer (same family, no wider, same network).
func contains(outer, inner netip.Prefix) bool {
	return outer.Addr().BitLen() == inner.Addr().BitLen() && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}
