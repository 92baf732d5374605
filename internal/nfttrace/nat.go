package nfttrace

import (
	"fmt"
	"net/netip"
)

// nat applies dnat, snat or masquerade; ok is false when the rule does not apply (the
// packet is of the other family, or a map has no entry for it).
func (tr *tracer) nat(t *table, n nat) (string, bool, error) {
	// nft refuses a nat statement reachable from anything but a nat chain when it loads
	// the ruleset; the trace checks the way it took.
	if tr.baseType != "nat" {
		return "", false, fmt.Errorf("nat statement reached from a %s chain", tr.baseType)
	}
	if n.v == 4 && !tr.p.Dst.Is4() || n.v == 6 && tr.p.Dst.Is4() {
		return "", false, nil
	}
	switch n.kind {
	case natMasq:
		if tr.hook != "postrouting" {
			return "", false, fmt.Errorf("masquerade at %s: only postrouting", tr.hook)
		}
		tr.res.Masquerade = true
		tr.status |= ctStatuses["snat"]
		tr.natDone[false] = true
		return join("masquerade", n.flags), true, nil
	case natSNAT:
		if tr.hook != "postrouting" && tr.hook != "input" {
			return "", false, fmt.Errorf("snat at %s: only postrouting and input", tr.hook)
		}
		if n.addr.Is4() != tr.p.Src.Is4() {
			return "", false, fmt.Errorf("snat to %s: not the packet's family", n.addr)
		}
		tr.p.Src, tr.res.SNAT = n.addr, n.addr
		if n.port != 0 && tr.p.hasPorts() {
			tr.p.SPort = n.port
		}
		tr.status |= ctStatuses["snat"]
		tr.natDone[false] = true
		return "snat to " + target(n.addr, n.port), true, nil
	}
	if tr.hook != "prerouting" && tr.hook != "output" {
		return "", false, fmt.Errorf("dnat at %s: only prerouting and output", tr.hook)
	}
	addr, port := n.addr, n.port
	if n.set != "" {
		vals, _, ok, err := tr.key(n.key)
		if err != nil || !ok {
			return "", false, err
		}
		e, found := tr.find(t, n.set, n.key, vals)
		if !found {
			return "", false, nil
		}
		addr = e.data[0].a
		if len(e.data) > 1 {
			port = uint16(e.data[1].n)
		}
	}
	if addr.Is4() != tr.p.Dst.Is4() {
		return "", false, fmt.Errorf("dnat to %s: not the packet's family", addr)
	}
	tr.p.Dst = addr
	if port != 0 && tr.p.hasPorts() {
		tr.p.DPort = port
	}
	tr.res.DNAT = true
	tr.status |= ctStatuses["dnat"]
	tr.natDone[true] = true
	return "dnat to " + target(addr, port), true, nil
}

func target(a netip.Addr, port uint16) string {
	if port == 0 {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + " " + b
}
