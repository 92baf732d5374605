package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// checkServicePolicies: the Service fields that change who reaches what, with real clients in
// the lab: ClientIP affinity, internalTrafficPolicy Local, loadBalancerSourceRanges, a
// LoadBalancer address that moves between nodes (and the LAN follows at once), an exhausted
// pool, and in the dual-stack lab RequireDualStack with IPv6 first.
func checkServicePolicies(t *testing.T, l *lab, sc scenario) {
	start := time.Now()
	defer func() { t.Logf("service policies checked in %s", time.Since(start).Round(time.Second)) }()
	checkAffinity(t, l)
	checkInternalLocal(t, l)
	checkSourceRanges(t, l, sc)
	checkAddressMove(t, l)
	checkPoolExhausted(t, l)
	if len(sc.families) == 2 {
		checkIPv6First(t, l)
	}
}

// answerer is the pod that answered "<pod>: you came from ...".
func answerer(out string) string {
	name, _, _ := strings.Cut(out, ":")
	return name
}

// checkAffinity: with sessionAffinity ClientIP, 20 connections from one pod all reach the
// endpoint the first one did (web has three).
func checkAffinity(t *testing.T, l *lab) {
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: sticky\nspec:\n  sessionAffinity: ClientIP\n  selector: {app: web}\n  ports:\n  - port: 80\n")
	defer l.kubectl("delete", "service", "sticky")
	url := httpURL(l.kubectl("get", "service", "sticky", "-o", "jsonpath={.spec.clusterIP}"))
	var first string
	eventually(t, 30*time.Second, "pod a reaches sticky", func() error {
		out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", url)
		if err != nil || !strings.HasPrefix(out, "web-") {
			return fmt.Errorf("%v: %s", err, out)
		}
		first = answerer(out)
		return nil
	})
	script := fmt.Sprintf("for i in $(seq 20); do wget -qO- %s; done", url)
	out, err := l.kubectlErr("exec", "a", "--", "sh", "-c", script)
	if err != nil {
		t.Fatalf("20 connections to sticky: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines {
		if answerer(line) != first {
			t.Errorf("sessionAffinity ClientIP: the first connection went to %s, a later one to %q:\n%s", first, line, out)
			break
		}
	}
	if len(lines) != 20 {
		t.Errorf("want 20 answers, got %d:\n%s", len(lines), out)
	}
}

// checkInternalLocal: an internalTrafficPolicy Local service whose one endpoint (b) is on
// node-1 answers pod a on node-1 and drops pod c's connections on node-3.
func checkInternalLocal(t *testing.T, l *lab) {
	l.kubectl("label", "pod", "b", "itp=b")
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: itp\nspec:\n  internalTrafficPolicy: Local\n  selector: {itp: b}\n  ports:\n  - port: 80\n")
	defer l.kubectl("delete", "service", "itp")
	url := httpURL(l.kubectl("get", "service", "itp", "-o", "jsonpath={.spec.clusterIP}"))
	eventually(t, 30*time.Second, "pod a (node-1) reaches the node-local endpoint b", func() error {
		out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", url)
		if err != nil || answerer(out) != "b" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	out, err := l.kubectlErr("exec", "c", "--", "curl", "-gsS", "--max-time", "3", url)
	if err == nil || !strings.Contains(out, "timed out") {
		t.Errorf("pod c (node-3, no local endpoint) -> itp: want the connection dropped (a timeout), got %v:\n%s", err, out)
	}
}

// checkSourceRanges: a LoadBalancer with loadBalancerSourceRanges answers the router, which
// is inside them, and drops router2, which is not.
func checkSourceRanges(t *testing.T, l *lab, sc scenario) {
	ranges := `["192.168.1.1/32", "fd00:c0a8:1::1/128"]`
	l.apply(t, fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: fw\nspec:\n  type: LoadBalancer\n  ipFamilyPolicy: PreferDualStack\n  loadBalancerSourceRanges: %s\n  selector: {app: web}\n  ports:\n  - port: 80\n", ranges))
	defer l.kubectl("delete", "service", "fw")
	ips := waitIngress(t, l, "fw")
	for _, ip := range ips {
		eventually(t, 30*time.Second, "the router (inside the source ranges) reaches fw at "+ip, func() error {
			out, err := l.in("router", "curl", "-gsS", "--max-time", "3", httpURL(ip))
			if err != nil || !strings.HasPrefix(out, "web-") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
		out, err := l.in("router2", "curl", "-gsS", "--max-time", "2", httpURL(ip))
		if err == nil || !strings.Contains(out, "timed out") {
			t.Errorf("router2 (outside the source ranges) -> fw at %s: want it dropped (a timeout), got %v:\n%s", ip, err, out)
		}
	}
}

func waitIngress(t *testing.T, l *lab, svc string) []string {
	t.Helper()
	var ips []string
	eventually(t, 30*time.Second, svc+" gets its LoadBalancer addresses", func() error {
		ips = strings.Fields(l.kubectl("get", "service", svc, "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"))
		if len(ips) == 0 {
			return fmt.Errorf("no ingress yet")
		}
		return nil
	})
	return ips
}

// checkAddressMove: an externalTrafficPolicy Local LoadBalancer is announced by the node of its
// endpoint. When the endpoint moves from node-1 to node-2, the address moves with it, and the
// router, which had just talked to node-1 for it, points at node-2's MAC at once (a gratuitous
// ARP or unsolicited Neighbor Advertisement; otherwise its entry would stay for 30 s or more).
func checkAddressMove(t *testing.T, l *lab) {
	l.apply(t, labelled(pinnedPod("mv1", "node-1", "nginx"), "mv1", "app: mover"))
	l.waitRunning(t, "mv1")
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: mover\nspec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  ipFamilyPolicy: PreferDualStack\n  selector: {app: mover}\n  ports:\n  - port: 80\n")
	defer l.kubectl("delete", "service", "mover")
	ips := waitIngress(t, l, "mover")
	reaches := func(ip, pod string) func() error {
		return func() error {
			out, err := l.in("router", "curl", "-gsS", "--max-time", "2", httpURL(ip))
			if err != nil || answerer(out) != pod {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}
	}
	for _, ip := range ips {
		eventually(t, 30*time.Second, "the router reaches mover at "+ip+" on node-1", reaches(ip, "mv1"))
	}
	mac, err := l.in("node-2", "cat", "/sys/class/net/eth0/address")
	if err != nil {
		t.Fatal(err)
	}
	mac = strings.TrimSpace(mac)
	l.apply(t, labelled(pinnedPod("mv2", "node-2", "nginx"), "mv2", "app: mover"))
	l.waitRunning(t, "mv2")
	l.kubectl("delete", "pod", "mv1", "--wait=true", "--timeout=30s")
	defer l.kubectl("delete", "pod", "mv2", "--wait=false")
	moved := time.Now()
	for _, ip := range ips {
		eventually(t, 10*time.Second, "the router's neighbour entry for "+ip+" points at node-2 ("+mac+")", func() error {
			out, err := l.in("router", "ip", "neigh", "show", ip)
			if err != nil || !strings.Contains(out, "lladdr "+mac) {
				return fmt.Errorf("%v: %q", err, out)
			}
			return nil
		})
		eventually(t, 10*time.Second, "the router reaches mover at "+ip+" on node-2", reaches(ip, "mv2"))
		t.Logf("the router follows %s to node-2 %s after mv1 was gone", ip, time.Since(moved).Round(time.Millisecond))
	}
}

// checkPoolExhausted: more LoadBalancer Services than the pool has addresses: the ones left
// over stay pending with a warning event that names the pool, and everything else goes on.
func checkPoolExhausted(t *testing.T, l *lab) {
	var manifest strings.Builder
	for i := range 17 { // the lab's pools hold 16 addresses per family
		fmt.Fprintf(&manifest, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: many-%d\n  labels: {many: \"yes\"}\nspec:\n  type: LoadBalancer\n  selector: {app: web}\n  ports:\n  - port: 80\n", i)
	}
	l.apply(t, manifest.String())
	defer l.kubectl("delete", "service", "-l", "many=yes", "--wait=false")
	eventually(t, 30*time.Second, "a warning event says the pool has no free address", func() error {
		out := l.kubectl("get", "events", "--field-selector", "reason=LoadBalancerPoolExhausted", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(out, "has no free address") {
			return fmt.Errorf("events: %q", out)
		}
		return nil
	})
	metrics, err := l.in("node-1", "curl", "-sS", "--max-time", "5", "http://127.0.0.1:9810/metrics")
	if err != nil || !strings.Contains(metrics, "weft_proxy_last_sync_timestamp_seconds") {
		t.Errorf("node-1's agent after the pool ran out: %v", err)
	}
}

// checkIPv6First: RequireDualStack with ipFamilies [IPv6, IPv4] gets an IPv6 cluster IP first
// and answers on both.
func checkIPv6First(t *testing.T, l *lab) {
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: v6first\nspec:\n  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv6, IPv4]\n  selector: {app: web}\n  ports:\n  - port: 80\n")
	defer l.kubectl("delete", "service", "v6first")
	ips := strings.Fields(l.kubectl("get", "service", "v6first", "-o", "jsonpath={.spec.clusterIPs[*]}"))
	if len(ips) != 2 || !strings.Contains(ips[0], ":") {
		t.Fatalf("v6first has cluster IPs %v, want IPv6 then IPv4", ips)
	}
	for _, ip := range ips {
		eventually(t, 30*time.Second, "pod a reaches v6first at "+ip, func() error {
			out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", httpURL(ip))
			if err != nil || !strings.HasPrefix(out, "web-") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
}
