package lab

import (
	"slices"
	"strings"
	"testing"
)

// TestInstallOptionsCarryTheLabsChoices: in daemonset mode the agents get, through `weft
// install`'s options, what process mode hands them as flags.
func TestInstallOptionsCarryTheLabsChoices(t *testing.T) {
	o, err := completed(t, "--agent=daemonset", "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56", "--service-cidr=10.43.0.0/16,2001:cafe:43::/112",
		"--backend=host-gw", "--mtu=1400", "--proxy=kube-proxy-nftables", "--cluster-domain=lab.local")
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlan(o)
	io := p.installOptions()
	if err := io.Validate(); err != nil {
		t.Fatalf("the lab's install options are refused: %v", err)
	}
	if io.ClusterCIDR != "10.42.0.0/16,2001:cafe:42::/56" || io.Backend != "host-gw" || io.Proxy != "none" || io.ClusterDomain != "lab.local" {
		t.Errorf("install options %+v", io)
	}
	if io.APIServer != "https://192.168.1.2:6443" {
		t.Errorf("agents must reach the API server on the lab LAN, got %s", io.APIServer)
	}
	for _, want := range []string{"--mtu=1400", "--resync=10s"} {
		if !slices.Contains(io.AgentArgs, want) {
			t.Errorf("agent args %v lack %s", io.AgentArgs, want)
		}
	}
	args := strings.Join(p.nodeAgentArgs("/k"), " ")
	if strings.Contains(args, "--run-agent") || !strings.Contains(args, "--cni-bin-dir=/opt/cni/bin") {
		t.Errorf("a daemonset lab's node runtime args: %s", args)
	}
	o.Agent = AgentProcess
	if args := strings.Join(NewPlan(o).nodeAgentArgs("/k"), " "); !strings.Contains(args, "--run-agent") || !strings.Contains(args, "--agent-kubeconfig=/k") {
		t.Errorf("a process lab's node runtime args: %s", args)
	}
}
