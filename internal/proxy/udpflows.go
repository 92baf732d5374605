package proxy

import (
	"net/netip"

	"github.com/weftnet/weft/internal/conntrack"
)

// udpTargets lists, for every UDP service address (ClusterIP and external) and port, and for
// every UDP NodePort, the endpoints it goes to now: what internal/conntrack compares between
// syncs to find the flows left on an endpoint that no longer serves them.
func udpTargets(ports []*servicePort) conntrack.Targets {
	out := conntrack.Targets{}
	for _, sp := range ports {
		if sp.protocol != "udp" {
			continue
		}
		out[conntrack.Flow{Addr: sp.clusterIP, Port: sp.port}] = addrPorts(sp.endpoints)
		// Flows to external addresses and node ports go to the cluster-wide choice, or under
		// externalTrafficPolicy Local to this node's endpoints (clients from outside) and the
		// ClusterIP's (pods and the node): every endpoint some path of the port reaches.
		external := addrPorts(sp.everyEndpoint())
		for _, a := range sp.external {
			out[conntrack.Flow{Addr: a, Port: sp.port}] = external
		}
		if sp.nodePort != 0 {
			out[conntrack.Flow{Addr: conntrack.AnyAddr(sp.v6), Port: sp.nodePort}] = external
		}
	}
	return out
}

func addrPorts(eps []endpoint) []netip.AddrPort {
	out := make([]netip.AddrPort, len(eps))
	for i, e := range eps {
		out[i] = netip.AddrPortFrom(e.ip, uint16(e.port))
	}
	return out
}
