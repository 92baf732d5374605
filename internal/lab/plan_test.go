package lab

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestPlanAddresses(t *testing.T) {
	for _, tc := range []struct {
		name          string
		args          []string
		node2IPs      []string
		apiServer     string
		routerIPv6    string
		externalIPv4  string
		netnsExternal bool
	}{
		{"IPv4", []string{"--nodes=3"}, []string{"192.168.1.12"}, "192.168.1.2", "invalid IP", "", false},
		{"dual-stack", []string{"--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56", "--service-cidr=10.43.0.0/16,2001:cafe:43::/112"},
			[]string{"192.168.1.12", "fd00:c0a8:1::12"}, "192.168.1.2", "fd00:c0a8:1::1", "", false},
		{"dual-stack IPv6 first", []string{"--cluster-cidr=2001:cafe:42::/56,10.42.0.0/16", "--service-cidr=2001:cafe:43::/112,10.43.0.0/16"},
			[]string{"fd00:c0a8:1::12", "192.168.1.12"}, "fd00:c0a8:1::2", "fd00:c0a8:1::1", "", false},
		{"IPv6 only", []string{"--cluster-cidr=2001:cafe:42::/56", "--service-cidr=2001:cafe:43::/112", "--external-subnet"},
			[]string{"fd00:c0a8:1::12"}, "fd00:c0a8:1::2", "fd00:c0a8:1::1", "192.168.2.10", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := completed(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			p := NewPlan(o)
			var got []string
			for _, a := range p.Nodes[1].InternalIPs {
				got = append(got, a.String())
			}
			if !reflect.DeepEqual(got, tc.node2IPs) {
				t.Errorf("node-2 InternalIPs = %v, want %v", got, tc.node2IPs)
			}
			if p.Nodes[1].Name != "node-2" || p.Nodes[1].NetNS != "weft-default-node-2" {
				t.Errorf("node-2 named %s in %s", p.Nodes[1].Name, p.Nodes[1].NetNS)
			}
			if got := p.APIServerAddress().String(); got != tc.apiServer {
				t.Errorf("API server address = %s, want %s", got, tc.apiServer)
			}
			if got := p.Router.IPv6.String(); got != tc.routerIPv6 {
				t.Errorf("router IPv6 = %s, want %s", got, tc.routerIPv6)
			}
			if (p.External != nil) != tc.netnsExternal {
				t.Fatalf("external host planned = %v, want %v", p.External != nil, tc.netnsExternal)
			}
			if p.External != nil && p.External.IPv4.String() != tc.externalIPv4 {
				t.Errorf("external host = %s, want %s", p.External.IPv4, tc.externalIPv4)
			}
		})
	}
}

func TestHostAddrReadsLikeIPv4(t *testing.T) {
	for n, want := range map[int]string{1: "fd00:c0a8:1::1", 11: "fd00:c0a8:1::11", 210: "fd00:c0a8:1::210"} {
		if got := hostAddr(LANv6, n); got != netip.MustParseAddr(want) {
			t.Errorf("hostAddr(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestNetNSNamesAreUniquePerLab(t *testing.T) {
	a, _ := completed(t, "--name=a", "--external-subnet")
	b, _ := completed(t, "--name=a-b", "--external-subnet")
	seen := map[string]bool{}
	for _, n := range append(NewPlan(a).NetNSNames(), NewPlan(b).NetNSNames()...) {
		if seen[n] {
			t.Errorf("namespace %s planned twice", n)
		}
		seen[n] = true
	}
}

// The default LoadBalancer pools must be what the agent accepts: networks, one per family.
func TestDefaultLBPoolsAreNetworks(t *testing.T) {
	o := Defaults()
	o.clusterCIDRText, o.serviceCIDRText = "10.42.0.0/16,2001:cafe:42::/56", "10.43.0.0/16,2001:cafe:43::/112"
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	p := NewPlan(o)
	if len(p.LBPools) != 2 {
		t.Fatalf("dual-stack lab pools %v, want one per family", p.LBPools)
	}
	for _, c := range p.LBPools {
		pfx, err := netip.ParsePrefix(c)
		if err != nil || pfx != pfx.Masked() || !(LANv4.Contains(pfx.Addr()) || LANv6.Contains(pfx.Addr())) {
			t.Errorf("default pool %q: want a network inside the LAN", c)
		}
	}
}

func TestPlanZones(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--nodes=3"}, []string{"", "", ""}},
		{[]string{"--nodes=4", "--zones=3"}, []string{"zone-a", "zone-b", "zone-c", "zone-a"}},
		{[]string{"--nodes=2", "--zones=1"}, []string{"zone-a", "zone-a"}},
	} {
		o, err := completed(t, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range NewPlan(o).Nodes {
			got = append(got, n.Zone)
			if args := nodeLabelArgs(n); (n.Zone == "") != (len(args) == 0) {
				t.Errorf("%v: node %s in zone %q registers with %v", tc.args, n.Name, n.Zone, args)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: zones %v, want %v", tc.args, got, tc.want)
		}
	}
}
