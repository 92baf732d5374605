package lab

import (
	"testing"
)

// FuzzOptions feeds arbitrary flag text through Complete and Validate: they must never panic,
// and whatever they accept must be a lab NewPlan can lay out.
func FuzzOptions(f *testing.F) {
	for _, seed := range [][3]string{
		{"10.42.0.0/16", "10.43.0.0/16", ""},
		{"10.42.0.0/16,2001:cafe:42::/56", "10.43.0.0/16,2001:cafe:43::/112", "10.43.0.10"},
		{"2001:cafe:42::/56", "2001:cafe:43::/112", "2001:cafe:43::a"},
		{"10.42.0.1/16", "10.43.0.0/30", "10.44.0.1"},
		{"", ",", "::"},
		{"192.168.1.0/24", "0.0.0.0/0", "garbage"},
	} {
		f.Add(seed[0], seed[1], seed[2], 3)
	}
	f.Fuzz(func(t *testing.T, cluster, service, dns string, nodes int) {
		o := Defaults()
		o.clusterCIDRText, o.serviceCIDRText, o.clusterDNSText, o.Nodes = cluster, service, dns, nodes
		if o.Complete() != nil || o.Validate() != nil {
			return
		}
		p := NewPlan(o)
		if len(p.Nodes) != nodes {
			t.Fatalf("planned %d nodes, asked for %d", len(p.Nodes), nodes)
		}
		for _, n := range p.Nodes {
			if len(n.InternalIPs) != len(o.ClusterCIDRs) {
				t.Fatalf("%s has InternalIPs %v for cluster CIDRs %v", n.Name, n.InternalIPs, o.ClusterCIDRs)
			}
			for _, ip := range n.InternalIPs {
				if !LANv4.Contains(ip) && !LANv6.Contains(ip) {
					t.Fatalf("%s address %s is off the lab LAN", n.Name, ip)
				}
			}
		}
		if !p.APIServerAddress().IsValid() {
			t.Fatalf("accepted options give no API server address: %+v", o)
		}
	})
}
