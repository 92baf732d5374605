package nfttrace_test

import (
	"context"
	"fmt"
	"net/netip"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/nfttrace"
)

func ExampleRuleset_Trace() {
	nft := knftables.NewFake(knftables.InetFamily, "weft-example")
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Add(&knftables.Chain{Name: "nat-prerouting", Type: ptr.To(knftables.NATType),
		Hook: ptr.To(knftables.PreroutingHook), Priority: ptr.To(knftables.DNATPriority)})
	tx.Add(&knftables.Chain{Name: "nat-postrouting", Type: ptr.To(knftables.NATType),
		Hook: ptr.To(knftables.PostroutingHook), Priority: ptr.To(knftables.SNATPriority)})
	tx.Add(&knftables.Chain{Name: "svc"})
	tx.Add(&knftables.Map{Name: "services", Type: "ipv4_addr . inet_proto . inet_service : verdict"})
	tx.Add(&knftables.Element{Map: "services", Key: []string{"10.43.0.10", "udp", "53"}, Value: []string{"goto svc"}})
	tx.Add(&knftables.Rule{Chain: "nat-prerouting", Rule: "ip daddr . meta l4proto . th dport vmap @services"})
	tx.Add(&knftables.Rule{Chain: "svc", Rule: "meta mark set meta mark | 0x4000"})
	tx.Add(&knftables.Rule{Chain: "svc", Rule: "meta l4proto udp dnat ip to 10.42.1.3:53"})
	tx.Add(&knftables.Rule{Chain: "nat-postrouting", Rule: "meta mark & 0x4000 != 0 masquerade"})
	if err := nft.Run(context.Background(), tx); err != nil {
		panic(err)
	}

	rs, err := nfttrace.FromFake(nft)
	if err != nil {
		panic(err)
	}
	r, err := rs.Trace(nfttrace.Packet{
		Src: netip.MustParseAddr("10.42.0.7"), Dst: netip.MustParseAddr("10.43.0.10"),
		Proto: "udp", SPort: 40000, DPort: 53,
	}, nfttrace.Env{LocalAddrs: []netip.Addr{netip.MustParseAddr("192.168.1.11")}})
	if err != nil {
		panic(err)
	}
	fmt.Print(r)
	// Output:
	// prerouting inet weft-example nat-prerouting: [ip daddr . meta l4proto . th dport vmap @services] (ip daddr . meta l4proto . th dport = 10.43.0.10 . udp . 53) -> goto svc
	// prerouting inet weft-example svc: [meta mark set meta mark | 0x4000] -> mark 0x0 -> 0x4000
	// prerouting inet weft-example svc: [meta l4proto udp dnat ip to 10.42.1.3:53] (meta l4proto = udp) -> dnat to 10.42.1.3:53
	// route: forward, 10.42.1.3 is not a local address
	// postrouting inet weft-example nat-postrouting: [meta mark & 0x4000 != 0 masquerade] (meta mark & 0x4000 = 0x4000) -> masquerade
	// accepted, to 10.42.1.3:53 (dnat), masqueraded, mark 0x4000, path prerouting > forward > postrouting
}
