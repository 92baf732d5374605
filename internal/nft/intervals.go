package nft

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"

	"github.com/weftnet/weft/internal/cidr"
)

// The kernel keeps an interval set in one of two ways, and nft writes each its own way:
//
//   - one field (a set of prefixes): a sorted tree of boundaries. A range is two elements, its
//     first key and the key after its last, flagged IntervalEnd; a range that runs to the
//     last key has no end. nft also adds an end at key 0 when it fills an empty set, which
//     bounds nothing.
//   - a concatenation (pod . peer range . protocol . port range): one element per box, its
//     fields' first values in Key and their last values in KeyEnd, each field padded to 4
//     bytes as in a plain concatenation.
//
// The netlink writer does the same, so that a table nft filled and one netlink changed read
// back alike (verify.go).

// encodeRanges lays out a key whose fields may be ranges: the first values, and the last.
func encodeRanges(fields []field, values []string) (first, last []byte, err error) {
	if len(values) != len(fields) {
		return nil, nil, fmt.Errorf("%d values for %d fields", len(values), len(fields))
	}
	for i, f := range fields {
		lo, hi, err := encodeFieldRange(f, values[i])
		if err != nil {
			return nil, nil, err
		}
		first, last = append(first, lo...), append(last, hi...)
		if len(fields) > 1 {
			for len(first)%4 != 0 {
				first, last = append(first, 0), append(last, 0)
			}
		}
	}
	return first, last, nil
}

// encodeFieldRange reads one field of an interval key: a value, a prefix of addresses, or
// lo-hi (addresses or ports).
func encodeFieldRange(f field, v string) (lo, hi []byte, err error) {
	from, to, isRange := strings.Cut(v, "-")
	switch {
	case (f == fieldIPv4 || f == fieldIPv6) && strings.Contains(v, "/"):
		p, err := netip.ParsePrefix(v)
		if err != nil || p.Addr().Is4() != (f == fieldIPv4) {
			return nil, nil, fmt.Errorf("%q is not a prefix of the set's family", v)
		}
		return p.Masked().Addr().AsSlice(), cidr.Last(p).AsSlice(), nil
	case isRange && (f == fieldIPv4 || f == fieldIPv6 || f == fieldPort):
		if lo, err = encodeField(f, from); err != nil {
			return nil, nil, err
		}
		if hi, err = encodeField(f, to); err != nil {
			return nil, nil, err
		}
		if bytes.Compare(lo, hi) > 0 {
			return nil, nil, fmt.Errorf("range %q ends before it starts", v)
		}
		return lo, hi, nil
	}
	if lo, err = encodeField(f, v); err != nil {
		return nil, nil, err
	}
	return lo, lo, nil
}

// after is the big-endian key after b, or nil when b is the last one.
func after(b []byte) []byte {
	out := slices.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i]++; out[i] != 0 {
			return out
		}
	}
	return nil
}

// sameIntervals compares an interval set's elements in the kernel with those wanted, encoded
// as the kernel keeps them. Of an end only its key counts (nft may hang the element's comment
// on it too); ends that close no range (nft's end at key 0) are left out.
func sameIntervals(got, want []nftables.SetElement) bool {
	return slices.Equal(boundaries(got), boundaries(want))
}

func boundaries(es []nftables.SetElement) []string {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b nftables.SetElement) int {
		// At one key, an end comes before a start: adjacent ranges share it.
		return cmp.Or(bytes.Compare(a.Key, b.Key), cmp.Compare(boolInt(!a.IntervalEnd), boolInt(!b.IntervalEnd)))
	})
	out := make([]string, 0, len(es))
	open := false
	for _, e := range es {
		switch {
		case e.IntervalEnd && open:
			out = append(out, fmt.Sprintf("end %x", e.Key))
			open = false
		case !e.IntervalEnd:
			keyEnd := e.KeyEnd
			if len(keyEnd) == 0 {
				keyEnd = e.Key
			}
			out = append(out, fmt.Sprintf("%x-%x %q", e.Key, keyEnd, elementText(e)))
			open = len(e.KeyEnd) == 0 // a concatenation's box has no end element
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
