package nfttrace

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// kind is the data type of a packet field, a set key part or a map value part: it says how
// to read a literal and how to compare.
type kind int

const (
	kAddr4 kind = iota + 1
	kAddr6
	kProto
	kPort
	kInt     // marks, numgen results, plain integers
	kString  // interface names
	kNfproto // ipv4, ipv6
	kCtState
	kCtStatus
	kFibType
	kVerdict
)

// typeKinds maps nft's type names (`type ipv4_addr . inet_service`) to kinds.
var typeKinds = map[string]kind{
	"ipv4_addr": kAddr4, "ipv6_addr": kAddr6, "inet_proto": kProto, "inet_service": kPort,
	"mark": kInt, "integer": kInt, "ifname": kString, "nf_proto": kNfproto,
	"ct_state": kCtState, "ct_status": kCtStatus, "fib_addrtype": kFibType, "verdict": kVerdict,
}

// bitmask kinds match a bare literal when any of its bits is set, as nft does for flags.
func (k kind) bitmask() bool { return k == kCtState || k == kCtStatus }

// val is one field's value; which member counts depends on the kind.
type val struct {
	a netip.Addr
	n uint64
	s string
}

func (v val) format(k kind) string {
	switch k {
	case kAddr4, kAddr6:
		return v.a.String()
	case kProto:
		if name, ok := protoNames[v.n]; ok {
			return name
		}
		return strconv.FormatUint(v.n, 10)
	case kInt:
		return fmt.Sprintf("0x%x", v.n)
	case kCtState:
		return flagNames(ctStates, v.n)
	case kCtStatus:
		return flagNames(ctStatuses, v.n)
	case kString, kNfproto, kFibType:
		return v.s
	}
	return strconv.FormatUint(v.n, 10)
}

// pat is one element of a set or one literal: a single value, a prefix or a range, all held
// as the inclusive range [lo, hi].
type pat struct{ lo, hi val }

func (p pat) contains(k kind, v val) bool {
	switch k {
	case kAddr4, kAddr6:
		return v.a.IsValid() && p.lo.a.Compare(v.a) <= 0 && v.a.Compare(p.hi.a) <= 0
	case kString, kNfproto, kFibType:
		return v.s == p.lo.s
	}
	return p.lo.n <= v.n && v.n <= p.hi.n
}

var protoNumbers = map[string]uint64{"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132}
var protoNames = map[uint64]string{1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}

// The bit values follow the kernel's, so that a mask written as a number means the same.
var ctStates = map[string]uint64{"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64}
var ctStatuses = map[string]uint64{"expected": 1, "seen-reply": 2, "assured": 4, "confirmed": 8,
	"snat": 16, "dnat": 32, "dying": 512}

func flagNames(names map[string]uint64, n uint64) string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if n&names[name] != 0 {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, ",")
}

// parsePat reads a literal of kind k: a value, and for addresses and numbers also a prefix
// (`10.0.0.0/8`) or a range (`1000-2000`).
func parsePat(k kind, s string) (pat, error) {
	switch k {
	case kAddr4, kAddr6:
		return parseAddrPat(k, s)
	case kString, kNfproto, kFibType:
		s = strings.Trim(s, `"`)
		if s == "" {
			return pat{}, fmt.Errorf("empty name")
		}
		if k == kNfproto && s != "ipv4" && s != "ipv6" {
			return pat{}, fmt.Errorf("unknown nfproto %q", s)
		}
		return pat{val{s: s}, val{s: s}}, nil
	case kCtState, kCtStatus:
		names := ctStates
		if k == kCtStatus {
			names = ctStatuses
		}
		var n uint64
		for _, f := range strings.Split(s, ",") {
			b, ok := names[f]
			if !ok {
				if x, err := parseUint(f); err == nil {
					b, ok = x, true
				}
			}
			if !ok {
				return pat{}, fmt.Errorf("unknown flag %q", f)
			}
			n |= b
		}
		return pat{val{n: n}, val{n: n}}, nil
	case kVerdict:
		return pat{}, fmt.Errorf("a verdict is not a key")
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		l, err := parseNum(k, lo)
		if err != nil {
			return pat{}, err
		}
		h, err := parseNum(k, hi)
		if err != nil {
			return pat{}, err
		}
		if h < l {
			return pat{}, fmt.Errorf("empty range %q", s)
		}
		return pat{val{n: l}, val{n: h}}, nil
	}
	n, err := parseNum(k, s)
	return pat{val{n: n}, val{n: n}}, err
}

func parseAddrPat(k kind, s string) (pat, error) {
	check := func(a netip.Addr) error {
		if a.Is4() != (k == kAddr4) || a.Zone() != "" {
			return fmt.Errorf("%q is not an %s address", s, map[bool]string{true: "IPv4", false: "IPv6"}[k == kAddr4])
		}
		return nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return pat{}, err
		}
		if err := check(p.Addr()); err != nil {
			return pat{}, err
		}
		p = p.Masked()
		return pat{val{a: p.Addr()}, val{a: lastAddr(p)}}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		l, err1 := netip.ParseAddr(lo)
		h, err2 := netip.ParseAddr(hi)
		if err1 != nil || err2 != nil {
			return pat{}, fmt.Errorf("bad address range %q", s)
		}
		if err := check(l); err != nil {
			return pat{}, err
		}
		if err := check(h); err != nil {
			return pat{}, err
		}
		if h.Less(l) {
			return pat{}, fmt.Errorf("empty range %q", s)
		}
		return pat{val{a: l}, val{a: h}}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return pat{}, err
	}
	if err := check(a); err != nil {
		return pat{}, err
	}
	return pat{val{a: a}, val{a: a}}, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func parseNum(k kind, s string) (uint64, error) {
	if k == kProto {
		if n, ok := protoNumbers[s]; ok {
			return n, nil
		}
	}
	n, err := parseUint(s)
	if err != nil {
		return 0, err
	}
	if (k == kPort && n > 65535) || (k == kProto && n > 255) || n > 0xffffffff {
		return 0, fmt.Errorf("%s out of range", s)
	}
	return n, nil
}

func parseUint(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return n, nil
}
