package nfttrace

import (
	"fmt"
	"strings"
)

// field is a packet property a rule can read.
type field int

const (
	fSaddr field = iota + 1
	fDaddr
	fL4proto
	fNfproto
	fSport
	fDport
	fMark
	fIifname
	fCtState
	fCtStatus
	fFibSaddr
	fFibDaddr
	fNumgen
)

// selector is one readable thing in a rule (`ip daddr`, `th dport`, `numgen random mod 3`),
// with the dependency nft adds to it: `ip daddr` only sees IPv4 packets in an inet table, and
// `tcp dport` only TCP ones.
type selector struct {
	text  string
	f     field
	k     kind
	needV int    // 4 or 6: the packet's family; 0: any
	proto uint64 // the packet's protocol; 0: any (th reads tcp, udp and sctp alike)
	mod   uint64 // numgen's modulus
}

// selectorWords are the words a selector starts with; anything else where a selector may
// stand is a literal or an unknown construct.
var selectorWords = map[string]bool{"ip": true, "ip6": true, "meta": true, "mark": true, "iifname": true,
	"th": true, "tcp": true, "udp": true, "sctp": true, "ct": true, "fib": true, "numgen": true}

// parseSelector reads one selector at toks[i] and returns the index after it.
func parseSelector(toks []string, i int) (selector, int, error) {
	at := func(j int) string {
		if j < len(toks) {
			return toks[j]
		}
		return ""
	}
	w, x := at(i), at(i+1)
	s := selector{text: w + " " + x}
	n := i + 2
	switch w {
	case "ip", "ip6":
		s.needV, s.k = 4, kAddr4
		if w == "ip6" {
			s.needV, s.k = 6, kAddr6
		}
		switch x {
		case "saddr":
			s.f = fSaddr
		case "daddr":
			s.f = fDaddr
		case "protocol", "nexthdr":
			if (w == "ip") != (x == "protocol") {
				return s, 0, fmt.Errorf("unknown selector %q", s.text)
			}
			s.f, s.k = fL4proto, kProto
		}
	case "meta":
		switch x {
		case "l4proto":
			s.f, s.k = fL4proto, kProto
		case "nfproto":
			s.f, s.k = fNfproto, kNfproto
		case "mark":
			s.f, s.k = fMark, kInt
		case "iifname":
			s.f, s.k = fIifname, kString
		}
	case "mark", "iifname":
		s = selector{text: "meta " + w, f: fMark, k: kInt}
		if w == "iifname" {
			s.f, s.k = fIifname, kString
		}
		n = i + 1
	case "th", "tcp", "udp", "sctp":
		s.proto = protoNumbers[w]
		s.k = kPort
		switch x {
		case "sport":
			s.f = fSport
		case "dport":
			s.f = fDport
		}
	case "ct":
		switch x {
		case "state":
			s.f, s.k = fCtState, kCtState
		case "status":
			s.f, s.k = fCtStatus, kCtStatus
		}
	case "fib":
		if at(i+2) == "type" && (x == "saddr" || x == "daddr") {
			s.text, s.k, n = "fib "+x+" type", kFibType, i+3
			s.f = fFibSaddr
			if x == "daddr" {
				s.f = fFibDaddr
			}
		}
	case "numgen":
		if x == "random" && at(i+2) == "mod" {
			m, err := parseUint(at(i + 3))
			if err != nil || m == 0 || m > 1<<16 {
				return s, 0, fmt.Errorf("numgen: bad modulus %q", at(i+3))
			}
			if at(i+4) == "offset" {
				return s, 0, fmt.Errorf("numgen offset is not simulated")
			}
			s = selector{text: "numgen random mod " + at(i+3), f: fNumgen, k: kInt, mod: m}
			n = i + 4
		}
	}
	if s.f == 0 {
		return s, 0, fmt.Errorf("unknown selector %q", strings.TrimSpace(s.text))
	}
	return s, n, nil
}

// parseConcat reads `sel . sel . sel`.
func parseConcat(toks []string, i int) ([]selector, int, error) {
	var out []selector
	for {
		s, n, err := parseSelector(toks, i)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, s)
		if n >= len(toks) || toks[n] != "." {
			return out, n, nil
		}
		i = n + 1
	}
}

func concatText(sels []selector) string {
	parts := make([]string, len(sels))
	for i, s := range sels {
		parts[i] = s.text
	}
	return strings.Join(parts, " . ")
}

func kindsOf(sels []selector) []kind {
	ks := make([]kind, len(sels))
	for i, s := range sels {
		ks[i] = s.k
	}
	return ks
}
