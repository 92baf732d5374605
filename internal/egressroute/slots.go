package egressroute

import (
	"hash/fnv"
	"sort"

	"github.com/vishvananda/netlink"
)

// The numbers weft's EgressRoutes take in the kernel. Each route gets a slot n in 1..MaxRoutes;
// its packets carry n in the RouteMarkMask bits of the firewall mark, and the policy rule for
// that mark looks up routing table RouteTableBase+n.
const (
	// Table is the nftables table (family inet) this package owns, and no other.
	Table = "weft-egressroute"

	// RouteMarkMask holds the slot number (bits 20-27). It avoids kube-proxy's 0x4000 and 0x8000
	// and marks other node software sets (Tailscale's 0x40000 and 0x80000, wg-quick's 0xca6c).
	// Writers keep every bit outside RouteMarkMask|KeepSourceMark as they find it.
	RouteMarkMask  uint32 = 0x0ff00000
	routeMarkShift        = 20

	// KeepSourceMark (bit 28) is set on packets of routes with masquerade: false. Masquerading
	// lives in other tables too (inet weft-egress masquerades all pod traffic leaving the
	// cluster), and a NAT decision in one table cannot be undone in another, so each of them
	// must skip packets with this bit: `meta mark & 0x10000000 == 0`.
	KeepSourceMark uint32 = 0x10000000

	// RouteTableBase+n is slot n's routing table: 0x5701 (22273) to 0x57ff (22527).
	RouteTableBase = 0x5700
	// RulePriority is where the policy rules sit: after the local table (0), before main (32766).
	RulePriority = 0x5700
	// MaxRoutes is how many EgressRoutes a cluster can have (the slots).
	MaxRoutes = 255

	// RouteProtocol marks routes and rules weft made ("W"), as the overlay's routes are marked;
	// with the table range it tells this package's routes from everyone else's.
	RouteProtocol netlink.RouteProtocol = 0x57
)

// markOf is slot n's mark, with the keep-source bit for routes that keep pods' addresses.
func markOf(slot int, keepSource bool) uint32 {
	m := uint32(slot) << routeMarkShift
	if keepSource {
		m |= KeepSourceMark
	}
	return m
}

// tableOf is slot n's routing table.
func tableOf(slot int) int { return RouteTableBase + slot }

// slotOfTable is the slot of a routing table, or 0 when the table is not one of ours.
func slotOfTable(table int) int {
	if table > RouteTableBase && table <= RouteTableBase+MaxRoutes {
		return table - RouteTableBase
	}
	return 0
}

// assignSlots gives every EgressRoute a slot without keeping state anywhere: each name hashes
// to a preferred slot, and routes claim slots oldest first, probing upward on a collision. So
// every node, and every restart, computes the same numbers, and a new route never moves an
// existing one (only freed slots can move a route that once collided). Invalid routes get
// slots too, so fixing one does not shift others. Routes past MaxRoutes get none.
func assignSlots(routes []*EgressRoute) map[string]int {
	ordered := append([]*EgressRoute(nil), routes...)
	sort.SliceStable(ordered, func(i, j int) bool {
		ti, tj := ordered[i].CreationTimestamp, ordered[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return ordered[i].Name < ordered[j].Name
	})
	taken := make([]bool, MaxRoutes+1)
	slots := map[string]int{}
	for i, er := range ordered {
		if i == MaxRoutes {
			break
		}
		h := fnv.New32a()
		h.Write([]byte(er.Name))
		slot := int(h.Sum32()%MaxRoutes) + 1
		for taken[slot] {
			slot = slot%MaxRoutes + 1
		}
		taken[slot] = true
		slots[er.Name] = slot
	}
	return slots
}
