// Package fwmark is the one list of the packet mark (fwmark) bits weft uses. Several features
// write and read the same 32-bit mark on a packet, in tables of their own, so a bit one of them
// takes must be known to all: here each bit says who sets it, who reads it and why, and every
// package takes its value from here. Writers change only their own bits (`meta mark set meta
// mark & ~mine | value`) and keep the rest as they find them, so other software on the node
// keeps its marks too.
//
// Bits weft never uses, because other software on nodes does: kube-proxy's 0x4000 (masquerade)
// and 0x8000 (drop), Tailscale's 0x40000 and 0x80000, and wg-quick's 0xca6c. weft's bits sit at 20 to 30,
// above all of them.
//
//	bits      value       set by                               read by
//	20-27     0x0ff00000  egressroute: a route's slot n        egressroute: policy rule "fwmark n/0x0ff00000 lookup 0x5700+n",
//	                      (pods' packets to its destinations)    and its postrouting masquerade
//	28        0x10000000  egressroute: routes with             egress, egressroute: their masquerade skips it
//	                      masquerade: false
//	29        0x20000000  proxy: traffic to a service that     proxy: nat postrouting masquerades it
//	                      must be masqueraded (outside
//	                      clients, hairpin)
//	30        0x40000000  hostport: a pod of the node          hostport: postrouting masquerades it
//	                      reaching a host port of the node
package fwmark

import "fmt"

const (
	// RouteSlotMask holds an EgressRoute's slot number n (1 to 255): the routing table
	// 0x5700+n that sends the route's traffic to its next hop is chosen by it.
	RouteSlotMask uint32 = 0x0ff00000
	// RouteSlotShift is where the slot number starts in the mark.
	RouteSlotShift = 20

	// KeepSource is set on packets of EgressRoutes with masquerade: false, which go to a
	// routed network that knows the pods' addresses. A NAT decision in one table cannot be
	// undone in another, so every table that masquerades pods' traffic skips these packets.
	KeepSource uint32 = 0x10000000

	// ProxyMasquerade marks packets the service proxy wants masqueraded on the way out:
	// traffic from outside the cluster network (so replies come back through this node) and
	// hairpin traffic (a pod reaching itself through its Service).
	ProxyMasquerade uint32 = 0x20000000

	// HostportHairpin marks a new connection from a pod of the node to one of the node's host
	// ports, so postrouting masquerades it: otherwise the pod behind the mapping answers its
	// neighbour on the bridge directly, from an address the client does not expect.
	HostportHairpin uint32 = 0x40000000
)

// Foreign are the bits other software on nodes uses; weft keeps clear of them.
var Foreign = []uint32{0x4000, 0x8000, 0x40000, 0x80000, 0xca6c}

// Weft lists weft's bits, for the test that no two overlap and for anyone who must know them all.
var Weft = []uint32{RouteSlotMask, KeepSource, ProxyMasquerade, HostportHairpin}

// Hex is a mark as nft rules and `ip rule` print it: 0x20000000.
func Hex(m uint32) string { return fmt.Sprintf("0x%08x", m) }
