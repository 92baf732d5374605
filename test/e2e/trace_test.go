package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// checkTrace: `weft trace` on node-1 (`sudo weft lab exec node-1 -- weft trace ...`, here
// through the node's network namespace, which is all it reads) says what the proxy does to a
// packet in every family: from a pod, each endpoint of a service by its address, the source
// kept; from the node, masqueraded; to a service without endpoints, rejected; to an address
// of the ServiceCIDR that no service holds, dropped. It makes its own two Services and one
// Deployment and deletes them.
func checkTrace(t *testing.T, l *lab, sc scenario) {
	policy := "SingleStack"
	if len(sc.families) == 2 {
		policy = "PreferDualStack"
	}
	l.kubectl("create", "deployment", "trace-web", "--image", "nginx", "--replicas", "2")
	defer l.kubectl("delete", "deployment", "trace-web")
	l.apply(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: trace-web
spec:
  ipFamilyPolicy: %s
  selector: {app: trace-web}
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: trace-empty
spec:
  ipFamilyPolicy: %s
  selector: {app: nothing-has-this-label}
  ports:
  - port: 80
`, policy, policy))
	defer l.kubectl("delete", "service", "trace-web", "trace-empty")

	trace := func(args ...string) (string, error) {
		return l.in("node-1", append([]string{l.bin, "trace"}, args...)...)
	}
	ips := strings.Fields(l.kubectl("get", "service", "trace-web", "-o", "jsonpath={.spec.clusterIPs[*]}"))
	empty := strings.Fields(l.kubectl("get", "service", "trace-empty", "-o", "jsonpath={.spec.clusterIPs[*]}"))
	podCIDRs := strings.Fields(l.kubectl("get", "node", "node-1", "-o", "jsonpath={.spec.podCIDRs[*]}"))
	if len(ips) != len(sc.families) || len(empty) != len(sc.families) {
		t.Fatalf("services trace-web %v and trace-empty %v: want one cluster IP per family %v", ips, empty, sc.families)
	}
	for i, ip := range ips {
		svc := netip.MustParseAddr(ip)
		// A pod address on node-1 that no pod holds: the rules read only its range.
		from := fromRange(t, podCIDRs, svc.Is4())
		to := net.JoinHostPort(ip, "80")
		eventually(t, 90*time.Second, "weft trace names every endpoint of trace-web at "+to, func() error {
			var eps []string
			for _, a := range strings.Fields(l.kubectl("get", "pods", "-l", "app=trace-web", "-o", "jsonpath={.items[*].status.podIPs[*].ip}")) {
				if netip.MustParseAddr(a).Is4() == svc.Is4() {
					eps = append(eps, a)
				}
			}
			if len(eps) != 2 {
				return fmt.Errorf("trace-web pods of this family: %v, want 2", eps)
			}
			out, err := trace("--from", from.String(), "--to", to, "--all")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			for _, ep := range eps {
				if want := "DNAT to endpoint " + net.JoinHostPort(ep, "80") + ", source kept, forwarded"; !strings.Contains(out, want) {
					return fmt.Errorf("no %q in\n%s", want, out)
				}
			}
			return nil
		})
		out, err := trace("--from-node", "--to", to)
		if err != nil || !strings.Contains(out, "result: accepted: DNAT to endpoint ") || !strings.Contains(out, "masqueraded (the destination sees this node's address)") {
			t.Errorf("weft trace --from-node --to %s: want DNAT to an endpoint, masqueraded: %v\n%s", to, err, out)
		}
		out, err = trace("--from", from.String(), "--to", net.JoinHostPort(empty[i], "80"))
		if err != nil || !strings.Contains(out, "result: the service has no endpoints: rejected") {
			t.Errorf("weft trace to trace-empty at %s: want rejected for want of endpoints: %v\n%s", empty[i], err, out)
		}
		unallocated := lastButOne(t, sc.serviceCIDRs, svc.Is4())
		out, err = trace("--from", from.String(), "--to", net.JoinHostPort(unallocated.String(), "80"))
		if err != nil || !strings.Contains(out, "result: address in a ServiceCIDR but no service: dropped") {
			t.Errorf("weft trace to %s, which no service holds: want dropped: %v\n%s", unallocated, err, out)
		}
	}
	out, err := trace("--from", "10.42.1.5", "--to", "10.43.0.10")
	if err == nil || !strings.Contains(out, "--to 10.43.0.10: tcp needs a port") {
		t.Errorf("weft trace with a port-less --to: want an error naming --to: %v\n%s", err, out)
	}
}

// fromRange is the 100th address of the family's range among cidrs.
func fromRange(t *testing.T, cidrs []string, v4 bool) netip.Addr {
	t.Helper()
	for _, c := range cidrs {
		if p := netip.MustParsePrefix(c); p.Addr().Is4() == v4 {
			a := p.Masked().Addr()
			for range 100 {
				a = a.Next()
			}
			return a
		}
	}
	t.Fatalf("no range of this family in %v", cidrs)
	return netip.Addr{}
}

// lastButOne is the last address but one of the family's range among cidrs: a service range
// allocates from its start, so no service holds it.
func lastButOne(t *testing.T, cidrs []string, v4 bool) netip.Addr {
	t.Helper()
	for _, c := range cidrs {
		if p := netip.MustParsePrefix(c); p.Addr().Is4() == v4 {
			b := p.Masked().Addr().AsSlice()
			for i := p.Bits(); i < len(b)*8; i++ {
				b[i/8] |= 0x80 >> (i % 8)
			}
			a, _ := netip.AddrFromSlice(b)
			return a.Prev()
		}
	}
	t.Fatalf("no range of this family in %v", cidrs)
	return netip.Addr{}
}
