package hostport

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/weftnet/weft/internal/fwmark"
	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/nft"
)

// Table is the hostPort table; nothing else in it belongs to another feature.
const Table = "weft-hostport"

const tableComment = "weft: pods' hostPorts (CNI portMappings)"

// Chain priorities: DNAT runs 5 before the standard dstnat (-100), where the proxy's
// nat-prerouting and nat-output sit, so a host port is the pod's even when its number is
// also a NodePort (as the kubelet's hostports won over kube-proxy's rules); masquerading
// runs 5 before srcnat (100), where weft-egress masquerades pods leaving the cluster.
const (
	DNATPriority = -105
	SNATPriority = 95
)

// skeletonOwner owns the fixed part of the table; attachments' owner names always hold a '/'.
const skeletonOwner = "skeleton"

func hostIPMap(f netaddr.Family) string { return "hostip-" + f.Suffix() }
func anyMap(f netaddr.Family) string    { return "any-" + f.Suffix() }

// nfproto is the family as `meta nfproto` spells it.
func nfproto(f netaddr.Family) string { return map[bool]string{false: "ipv4", true: "ipv6"}[f.Is6()] }

// skeleton is the fixed part of the table: the maps that attachments fill, and the chains
// that look packets up in them. Its hairpin rules match the pods' bridge, and say so in their
// comments: a command compares the kernel's rules by their comments (internal/nft), so a
// bridge renamed shows as a difference and the rules are rewritten.
func skeleton(bridge string) *nft.Contents {
	sk := nft.NewContents()
	for _, f := range netaddr.Families {
		sk.AddSet(&nft.Set{Name: hostIPMap(f), Type: f.AddrType() + " . inet_proto . inet_service : " + f.AddrType() + " . inet_service",
			Comment: "host address . protocol . host port : pod address . container port"})
		sk.AddSet(&nft.Set{Name: anyMap(f), Type: "inet_proto . inet_service : " + f.AddrType() + " . inet_service",
			Comment: "protocol . host port on every node address : pod address . container port"})
	}
	base := func(name, hook string, priority int, why string) {
		sk.AddChain(&nft.Chain{Name: name, Hook: &nft.Hook{Type: "nat", Hook: hook, Priority: strconv.Itoa(priority)}, Comment: why})
	}
	base("prerouting", "prerouting", DNATPriority, "hostPort DNAT of packets arriving, before the proxy's")
	base("output", "output", DNATPriority, "hostPort DNAT of packets this node sends, before the proxy's")
	base("postrouting", "postrouting", SNATPriority, "masquerade of hairpin and 127.0.0.1 hostPort connections")
	sk.AddChain(&nft.Chain{Name: "hostports", Comment: "a packet to a host port goes to its pod"})
	sk.AddRules("prerouting", nft.Rule{Text: "jump hostports", Comment: "packets arriving at a host port"})
	sk.AddRules("output", nft.Rule{Text: "jump hostports", Comment: "the node's own connections to a host port"})
	mark := fwmark.Hex(fwmark.HostportHairpin) // why: see internal/fwmark
	fromPod := "iifname " + strconv.Quote(bridge)
	for _, f := range netaddr.Families {
		key := f.Match() + " daddr . meta l4proto . th dport"
		sk.AddRules("hostports",
			nft.Rule{Text: fmt.Sprintf("%s %s @%s meta mark set meta mark | %s", fromPod, key, hostIPMap(f), mark),
				Comment: "a pod on " + bridge + " to a hostIP port: masquerade (hairpin)"},
			nft.Rule{Text: fmt.Sprintf("%s meta nfproto %s fib daddr type local meta l4proto . th dport @%s meta mark set meta mark | %s", fromPod, nfproto(f), anyMap(f), mark),
				Comment: "a pod on " + bridge + " to a port of every address: masquerade (hairpin)"},
			nft.Rule{Text: fmt.Sprintf("dnat %s to %s map @%s", f.Match(), key, hostIPMap(f)),
				Comment: "host ports of one node address (hostIP) to their pods"},
			nft.Rule{Text: fmt.Sprintf("meta nfproto %s fib daddr type local dnat %s to meta l4proto . th dport map @%s", nfproto(f), f.Match(), anyMap(f)),
				Comment: "host ports of every node address to their pods"})
	}
	sk.AddRules("postrouting",
		nft.Rule{Text: "meta mark & " + mark + " != 0 masquerade", Comment: "hairpin: the pod answers the node, not the pod that asked"},
		nft.Rule{Text: `ip saddr 127.0.0.0/8 ct status dnat oifname != "lo" masquerade`, Comment: "the node's own connections to 127.0.0.1:<hostPort>"})
	return sk
}

// element is where an entry goes: its map, key and value.
func element(e Entry) *nft.Element {
	f := netaddr.Of(e.PodIP)
	value := []string{e.PodIP.String(), strconv.Itoa(e.PodPort)}
	if e.HostIP.IsValid() {
		return &nft.Element{Set: hostIPMap(f), Key: []string{e.HostIP.String(), e.Protocol, strconv.Itoa(e.HostPort)}, Value: value}
	}
	return &nft.Element{Set: anyMap(f), Key: []string{e.Protocol, strconv.Itoa(e.HostPort)}, Value: value}
}

// contentsOf is what one attachment (owner) puts in the table: an element per entry, whose
// comment names the attachment, so `nft list table inet weft-hostport` says whose port it is.
func contentsOf(owner string, entries []Entry) *nft.Contents {
	c := nft.NewContents()
	for _, e := range entries {
		el := element(e)
		el.Comment = owner
		c.AddElements(el)
	}
	return c
}

// SetRouteLocalnet is RouteLocalnet on the real node: it lets the bridge carry packets whose
// source is 127.0.0.1 (postrouting then masquerades them to the bridge's address).
func SetRouteLocalnet(bridge string) error {
	p := "/proc/sys/net/ipv4/conf/" + bridge + "/route_localnet"
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("let bridge %s route 127.0.0.1 to pods (route_localnet): %w", bridge, err)
	}
	return nil
}
