package proxy

import (
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
)

// TestFilterChainsOnlySeeNewConnections guards what the node-local DNS (internal/dns) relies
// on: it marks DNS to the kube-dns addresses notrack at raw priority, and an untracked packet
// never meets a NAT chain (the kernel runs those for new conntrack entries only) and must never
// meet a refusal here. So every rule of the proxy's filter base chains tests "ct state new"
// first: kube-dns, a Service without endpoints, would otherwise be rejected on every node.
func TestFilterChainsOnlySeeNewConnections(t *testing.T) {
	sk := newSkeleton()
	filter := map[string]bool{}
	for _, c := range sk.chains {
		if c.Type != nil && *c.Type == knftables.FilterType {
			filter[c.Name] = true
		}
	}
	if len(filter) == 0 {
		t.Fatal("no filter base chains found")
	}
	for _, r := range sk.rules {
		if filter[r.Chain] && !strings.HasPrefix(r.Rule, "ct state new ") && !strings.HasPrefix(r.Rule, "ct state invalid ") {
			t.Errorf("chain %s: rule %q also sees untracked packets (the node-local DNS's): start it with ct state new (or invalid)", r.Chain, r.Rule)
		}
	}
}
