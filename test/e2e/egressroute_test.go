package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// checkEgressRoute: the site subnet behind router2 is unreachable from pods until an
// EgressRoute sends it there; then pod a (node-1) reaches it, with the node's address or, with
// masquerade: false and a route back on router2, its own; deleting the route cuts it off again.
func checkEgressRoute(t *testing.T, l *lab, sc scenario, aIPs []string) {
	var dests, sites []string
	via := ""
	for _, fam := range sc.families {
		if fam == "4" {
			dests, sites, via = append(dests, "192.168.3.0/24"), append(sites, "192.168.3.10"), "192.168.1.254"
		} else {
			dests, sites = append(dests, "fd00:c0a8:3::/64"), append(sites, "fd00:c0a8:3::10")
			if via == "" {
				via = "fd00:c0a8:1::254"
			}
		}
	}
	if len(sc.families) == 2 {
		// One next hop per EgressRoute: the dual-stack lab declares one route per family.
		dests, sites = dests[:1], sites[:1]
	}
	fetch := func(site string) (string, error) {
		return l.kubectlErr("exec", "a", "--", "wget", "-qO-", httpURL(site))
	}
	for _, site := range sites {
		if out, err := fetch(site); err == nil {
			t.Fatalf("a reaches %s before any EgressRoute: the lab routes the site subnet by itself\n%s", site, out)
		}
	}
	masquerade := !sc.keepSourceToExternal
	if !masquerade {
		if out, err := l.in("router2", "ip", "route", "add", "10.42.0.0/16", "via", "192.168.1.11"); err != nil {
			t.Fatalf("route back to the pods on router2: %v\n%s", err, out)
		}
	}
	l.apply(t, fmt.Sprintf("apiVersion: weft.dev/v1alpha1\nkind: EgressRoute\nmetadata:\n  name: site\nspec:\n  destinations: [%s]\n  via: %s\n  masquerade: %t\n",
		strings.Join(dests, ", "), via, masquerade))
	eventually(t, 30*time.Second, "EgressRoute site Ready", func() error {
		if ready := l.kubectl("get", "egressroute", "site", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); ready != "True" {
			return fmt.Errorf("Ready=%q; status: %s", ready, l.kubectl("get", "egressroute", "site", "-o", "jsonpath={.status}"))
		}
		return nil
	})
	for i, site := range sites {
		want := "you came from 192.168.1.11\n"
		if strings.Contains(site, ":") {
			want = "you came from fd00:c0a8:1::11\n"
		}
		if !masquerade {
			want = "you came from " + aIPs[i] + "\n"
		}
		out, err := fetch(site)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("a -> %s through the EgressRoute: %v\n%s\nwant %q", site, err, out, want)
		}
	}
	if listed := l.kubectl("get", "egressroutes"); !strings.Contains(listed, "site") || !strings.Contains(listed, "True") {
		t.Errorf("kubectl get egressroutes:\n%s", listed)
	}
	l.kubectl("delete", "egressroute", "site")
	eventually(t, 30*time.Second, "the site unreachable again", func() error {
		for _, site := range sites {
			if out, err := fetch(site); err == nil {
				return fmt.Errorf("a still reaches %s: %s", site, out)
			}
		}
		return nil
	})
}
