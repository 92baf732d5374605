package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// serviceCIDRDataDir keeps this lab apart from the other e2e labs, which may run at the same time.
const serviceCIDRDataDir = "/var/lib/weft-e2e-servicecidr"

// TestOverlappingServiceCIDRs follows the Kubernetes documentation's steps for extending a
// full service range: the cluster runs with 10.96.0.0/28, ServiceCIDR newcidr1 adds
// 10.96.0.0/24 over it, and a Service gets 10.96.0.142 from the new range. A pod reaches it;
// every node's proxy, egress and EgressRoute tables hold the new range (merged with the first)
// so pods' traffic to it is never masqueraded or rerouted.
func TestOverlappingServiceCIDRs(t *testing.T) {
	l := &lab{t: t, bin: weftBin(t), name: "e2e-svccidr", port: 16491, dir: serviceCIDRDataDir}
	upWithHostCheck(t, l, "--nodes", "2", "--service-cidr", "10.96.0.0/28", "--cluster-dns", "10.96.0.10")

	l.apply(t, "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata:\n  name: newcidr1\nspec:\n  cidrs:\n  - 10.96.0.0/24\n")
	l.apply(t, pinnedPod("a", "node-1", "busybox", "sleep", "3600"))
	l.kubectl("create", "deployment", "web", "--image", "nginx", "--replicas", "1")
	// The API server allocates from newcidr1 once it has seen it Ready.
	eventually(t, 60*time.Second, "a Service at 10.96.0.142, inside newcidr1 only", func() error {
		out, err := l.kubectlErr("expose", "deployment", "web", "--port", "80", "--cluster-ip", "10.96.0.142")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	aIP := l.waitRunning(t, "a")[0]
	eventually(t, 90*time.Second, "pod a reaches service web at 10.96.0.142", func() error {
		out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", "http://10.96.0.142/")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.HasPrefix(out, "web-") || !strings.Contains(out, "you came from "+aIP+"\n") {
			return fmt.Errorf("answer %q, want a web pod seeing %s", out, aIP)
		}
		return nil
	})

	// Each table lists the ranges it keeps inside the cluster; overlapping ones arrive merged.
	for _, node := range []string{"node-1", "node-2"} {
		for _, c := range []struct{ what, table, set string }{
			{"the proxy drops unallocated addresses of", "weft-proxy", "service-cidrs-v4"},
			{"egress does not masquerade traffic to", "weft-egress", "keep-v4"},
			{"EgressRoutes never reroute traffic to", "weft-egressroute", "cluster-v4"},
		} {
			eventually(t, 30*time.Second, fmt.Sprintf("on %s, %s newcidr1 (set %s of table inet %s)", node, c.what, c.set, c.table), func() error {
				out, err := l.in(node, "nft", "list", "set", "inet", c.table, c.set)
				if err != nil {
					return fmt.Errorf("%v: %s", err, out)
				}
				if !strings.Contains(out, "10.96.0.0/24") || strings.Contains(out, "10.96.0.0/28") {
					return fmt.Errorf("want 10.96.0.0/24 (which covers 10.96.0.0/28) in:\n%s", out)
				}
				return nil
			})
		}
	}
}
