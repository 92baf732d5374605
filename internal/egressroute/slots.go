package egressroute

import (
	"hash/fnv"
	"sort"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/fwmark"
)

// The numbers weft's EgressRoutes take in the kernel. Each route gets a slot n in 1..MaxRoutes;
// its packets carry n in the fwmark.RouteSlotMask bits of the firewall mark, and the policy
// rule for that mark looks up routing table RouteTableBase+n. Packets of routes with
// masquerade: false carry fwmark.KeepSource too. Writers keep every other bit as they find it.
const (
	// Table is the nftables table (family inet) this package owns, and no other.
	Table = "weft-egressroute"

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
	m := uint32(slot) << fwmark.RouteSlotShift
	if keepSource {
		m |= fwmark.KeepSource
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
