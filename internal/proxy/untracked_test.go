package proxy

import (
	"strings"
	"testing"
)

// TestFilterChainsOnlySeeNewConnections guards what the node-local DNS (internal/dns) relies
// on: it marks DNS to the kube-dns addresses notrack at raw priority, and an untracked packet
// never meets a NAT chain (the kernel runs those for new conntrack entries only) and must never
// meet a refusal here. So every rule of the proxy's filter base chains tests "ct state new"
// first: kube-dns, a Service without endpoints, would otherwise be rejected on every node.
func TestFilterChainsOnlySeeNewConnections(t *testing.T) {
	sk := skeleton()
	n := 0
	for _, c := range sk.Chains {
		if c.Hook == nil || c.Hook.Type != "filter" {
			continue
		}
		n++
		for _, r := range c.Rules {
			if !strings.HasPrefix(r.Text, "ct state new ") && !strings.HasPrefix(r.Text, "ct state invalid ") {
				t.Errorf("chain %s: rule %q also sees untracked packets (the node-local DNS's): start it with ct state new (or invalid)", c.Name, r.Text)
			}
		}
	}
	if n == 0 {
		t.Fatal("no filter base chains found")
	}
}
