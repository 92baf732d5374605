package nfttrace

import (
	"context"
	"net/netip"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// load builds a Ruleset from one inet table holding objs, through a knftables fake as the
// service proxy's tests do.
func load(t *testing.T, objs ...knftables.Object) *Ruleset {
	t.Helper()
	rs, err := FromFake(fakeWith(t, objs...))
	if err != nil {
		t.Fatalf("FromFake: %v", err)
	}
	return rs
}

func fakeWith(t *testing.T, objs ...knftables.Object) *knftables.Fake {
	t.Helper()
	fake := knftables.NewFake(knftables.InetFamily, "t")
	tx := fake.NewTransaction()
	tx.Add(&knftables.Table{})
	for _, o := range objs {
		tx.Add(o)
	}
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatalf("fake.Run: %v", err)
	}
	return fake
}

func base(name string, typ knftables.BaseChainType, hook knftables.BaseChainHook, prio knftables.BaseChainPriority) *knftables.Chain {
	return &knftables.Chain{Name: name, Type: ptr.To(typ), Hook: ptr.To(hook), Priority: ptr.To(prio)}
}

func nftChain(name string) *knftables.Chain { return &knftables.Chain{Name: name} }

func nftRule(chain, text string) *knftables.Rule { return &knftables.Rule{Chain: chain, Rule: text} }

func elem(set string, key ...string) *knftables.Element {
	return &knftables.Element{Set: set, Key: key}
}

func mapElement(m string, value []string, key ...string) *knftables.Element {
	return &knftables.Element{Map: m, Key: key, Value: value}
}

// tcp4 is a new TCP connection from a pod to a service address.
func tcp4() Packet {
	return Packet{Src: netip.MustParseAddr("10.42.1.7"), Dst: netip.MustParseAddr("10.43.0.1"),
		Proto: "tcp", SPort: 40000, DPort: 80}
}

func tcp6() Packet {
	return Packet{Src: netip.MustParseAddr("2001:cafe:42:1::7"), Dst: netip.MustParseAddr("2001:cafe:43::1"),
		Proto: "tcp", SPort: 40000, DPort: 80}
}

var nodeIP = netip.MustParseAddr("192.168.1.11")

func env() Env { return Env{LocalAddrs: []netip.Addr{nodeIP}} }

func trace(t *testing.T, rs *Ruleset, p Packet, e Env) *Result {
	t.Helper()
	r, err := rs.Trace(p, e)
	if err != nil {
		t.Fatalf("Trace: %v", err)
	}
	return r
}

// traceAll traces every numgen branch and lists the destinations.
func traceAll(t *testing.T, rs *Ruleset, p Packet) ([]*Result, []string) {
	t.Helper()
	all, err := rs.TraceAll(p, env())
	if err != nil {
		t.Fatalf("TraceAll: %v", err)
	}
	var dsts []string
	for _, r := range all {
		dsts = append(dsts, r.Dst.String())
	}
	return all, dsts
}
