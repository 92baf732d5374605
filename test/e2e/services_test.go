package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// checkServices: a Deployment behind a Service answers on its ClusterIP in every family from a
// pod (which keeps its address) and from a node, and on its NodePort from a LAN client; a
// service without endpoints is refused at once; an address in the ServiceCIDR that no service
// holds is dropped.
func checkServices(t *testing.T, l *lab, sc scenario, aIPs []string) {
	policy := "SingleStack"
	if len(sc.families) == 2 {
		policy = "PreferDualStack"
	}
	l.kubectl("create", "deployment", "web", "--image", "nginx", "--replicas", "3")
	l.apply(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  ipFamilyPolicy: %s
  selector: {app: web}
  ports:
  - port: 80
    nodePort: 30080
---
apiVersion: v1
kind: Service
metadata:
  name: empty
spec:
  ipFamilyPolicy: %s
  selector: {app: nothing-has-this-label}
  ports:
  - port: 80
`, policy, policy))
	defer l.kubectl("delete", "deployment", "web")
	defer l.kubectl("delete", "service", "web", "empty")
	ips := strings.Fields(l.kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIPs[*]}"))
	if len(ips) != len(sc.families) {
		t.Fatalf("service web has cluster IPs %v, want one per family %v", ips, sc.families)
	}
	for i, ip := range ips {
		url := httpURL(ip)
		eventually(t, 60*time.Second, "pod a reaches service web at "+url, func() error {
			out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", url)
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			// Pod to service keeps the pod's address: the endpoint sees who asked.
			if !strings.HasPrefix(out, "web-") || !strings.Contains(out, "you came from "+aIPs[i]+"\n") {
				return fmt.Errorf("answer %q, want a web pod seeing %s", out, aIPs[i])
			}
			return nil
		})
		if out, err := l.in("node-1", "curl", "-gsS", "--max-time", "5", url); err != nil || !strings.HasPrefix(out, "web-") {
			t.Errorf("node-1 -> %s: %v\n%s", url, err, out)
		}
	}
	// The agent's metrics: how long syncs take and what the table holds.
	metrics, err := l.in("node-1", "curl", "-sS", "--max-time", "5", "http://127.0.0.1:9810/metrics")
	for _, want := range []string{`weft_proxy_sync_duration_seconds_count{kind="full"} `, `weft_proxy_sync_duration_seconds_count{kind="partial"} `,
		"weft_proxy_network_programming_duration_seconds_count ", "weft_proxy_service_ports ", "weft_proxy_endpoints ", `weft_proxy_table_objects{kind="elements"} `} {
		if err != nil || !strings.Contains(metrics, want) {
			t.Errorf("node-1's agent metrics lack %q: %v\n%s", want, err, metrics)
		}
	}
	nodePort := "http://192.168.1.12:30080/"
	if sc.families[0] == "6" {
		nodePort = "http://[fd00:c0a8:1::12]:30080/"
	}
	if out, err := l.in("router", "curl", "-gsS", "--max-time", "5", nodePort); err != nil || !strings.HasPrefix(out, "web-") {
		t.Errorf("a LAN client (the router) -> NodePort %s: %v\n%s", nodePort, err, out)
	}
	for _, ip := range strings.Fields(l.kubectl("get", "service", "empty", "-o", "jsonpath={.spec.clusterIPs[*]}")) {
		start := time.Now()
		out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", httpURL(ip))
		if err == nil || !strings.Contains(out, "Connection refused") || time.Since(start) > 5*time.Second {
			t.Errorf("service without endpoints at %s: want Connection refused at once, got %v after %s:\n%s", ip, err, time.Since(start), out)
		}
	}
	// A hostNetwork pod reaching a Service's external IP: the node itself (and so every
	// hostNetwork pod) reaches it, with no DNS trick and no hand-written DNAT rule.
	external, fromNew, unallocatedNew := "192.168.1.200", "10.44.0.10", "10.44.0.99"
	unallocated := "10.43.255.254"
	if sc.families[0] == "6" {
		external, fromNew, unallocatedNew, unallocated = "fd00:c0a8:1::200", "2001:cafe:44::10", "2001:cafe:44::99", "2001:cafe:43::fffe"
	}
	// A service from the second ServiceCIDR added at run time (checkServiceCIDRs made it).
	l.apply(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: web-ext
spec:
  selector: {app: web}
  externalIPs: [%q]
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: from-new-range
spec:
  clusterIP: %q
  selector: {app: web}
  ports:
  - port: 80
`, external, fromNew))
	defer l.kubectl("delete", "service", "web-ext", "from-new-range")
	eventually(t, 30*time.Second, "node-1 reaches the externalIP "+external, func() error {
		out, err := l.in("node-1", "curl", "-gsS", "--max-time", "3", httpURL(external))
		if err != nil || !strings.HasPrefix(out, "web-") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	eventually(t, 30*time.Second, "pod a reaches the service from the new ServiceCIDR at "+fromNew, func() error {
		out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", httpURL(fromNew))
		if err != nil || !strings.HasPrefix(out, "web-") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	checkLoadBalancer(t, l, policy)
	checkUDPSwap(t, l)
	checkExternalLocal(t, l, sc)
	checkServicePolicies(t, l, sc)
	// An agent restart rewrites the table; connections already translated keep going.
	l.kubectl("label", "pod", "s", "app=iperf")
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: iperf\nspec:\n  selector: {app: iperf}\n  ports:\n  - port: 5201\n")
	defer l.kubectl("delete", "service", "iperf")
	iperf := l.kubectl("get", "service", "iperf", "-o", "jsonpath={.spec.clusterIP}")
	eventually(t, 30*time.Second, "iperf3 through the ClusterIP", func() error {
		_, err := l.kubectlErr("exec", "c", "--", "iperf3", "-c", iperf, "-t", "1")
		return err
	})
	checkAgentRestart(t, l, iperf)
	for _, ip := range []string{unallocated, unallocatedNew} {
		out, err := l.in("node-1", "curl", "-gsS", "--max-time", "2", httpURL(ip))
		if err == nil || strings.Contains(out, "refused") {
			t.Errorf("an address of a ServiceCIDR no service holds (%s): want it dropped (a timeout), got %v:\n%s", ip, err, out)
		}
	}
}

// checkLoadBalancer: a LoadBalancer Service gets an address per family from the lab's pool,
// answered on the LAN by one node: a LAN client and a node (as a hostNetwork pod would) reach the service there.
func checkLoadBalancer(t *testing.T, l *lab, policy string) {
	l.apply(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: web-lb
spec:
  type: LoadBalancer
  ipFamilyPolicy: %s
  selector: {app: web}
  ports:
  - port: 80
`, policy))
	defer l.kubectl("delete", "service", "web-lb")
	var ips []string
	eventually(t, 30*time.Second, "web-lb gets its addresses", func() error {
		ips = strings.Fields(l.kubectl("get", "service", "web-lb", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"))
		families := strings.Fields(l.kubectl("get", "service", "web-lb", "-o", "jsonpath={.spec.ipFamilies[*]}"))
		if len(ips) == 0 || len(ips) != len(families) {
			return fmt.Errorf("ingress %v for families %v", ips, families)
		}
		return nil
	})
	for _, ip := range ips {
		if !strings.HasPrefix(ip, "192.168.1.22") && !strings.HasPrefix(ip, "192.168.1.23") && !strings.HasPrefix(ip, "fd00:c0a8:1::22") {
			t.Errorf("web-lb got %s, outside the lab's pool", ip)
		}
		for _, from := range []string{"router", "node-1"} {
			eventually(t, 30*time.Second, from+" reaches web-lb at "+ip, func() error {
				out, err := l.in(from, "curl", "-gsS", "--max-time", "3", httpURL(ip))
				if err != nil || !strings.HasPrefix(out, "web-") {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			})
		}
	}
}

// checkUDPSwap: a UDP "connection" (same source port every time) follows its service to a new
// endpoint once the old one is gone, instead of sticking to it for conntrack's timeout.
func checkUDPSwap(t *testing.T, l *lab) {
	l.apply(t, labelled(pinnedPod("u1", "node-2", "nginx"), "u1", "app: udp"))
	l.waitRunning(t, "u1")
	l.apply(t, `apiVersion: v1
kind: Service
metadata:
  name: udp
spec:
  selector: {app: udp}
  ports:
  - port: 80
    protocol: UDP
`)
	defer l.kubectl("delete", "service", "udp")
	ip := l.kubectl("get", "service", "udp", "-o", "jsonpath={.spec.clusterIP}")
	ask := func() (string, error) {
		return l.kubectlErr("exec", "c", "--", "sh", "-c", fmt.Sprintf("echo hi | socat -t 1 - UDP:%s:80,sourceport=40053,reuseaddr", bracket(ip)))
	}
	eventually(t, 30*time.Second, "u1 answers on the UDP service", func() error {
		if out, err := ask(); err != nil || !strings.HasPrefix(out, "u1:") {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	l.apply(t, labelled(pinnedPod("u2", "node-1", "nginx"), "u2", "app: udp"))
	l.waitRunning(t, "u2")
	l.kubectl("delete", "pod", "u1", "--wait=true", "--timeout=30s")
	start := time.Now()
	eventually(t, 10*time.Second, "the same UDP flow reaches u2", func() error {
		if out, err := ask(); err != nil || !strings.HasPrefix(out, "u2:") {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	t.Logf("the UDP flow moved to u2 %s after u1 was gone", time.Since(start).Round(time.Millisecond))
	l.kubectl("delete", "pod", "u2", "--wait=false")
}

// labelled adds labels to a pod manifest made by pinnedPod.
func labelled(manifest, name, labels string) string {
	return strings.Replace(manifest, "  name: "+name+"\n", "  name: "+name+"\n  labels: {"+labels+"}\n", 1)
}

// checkExternalLocal: an externalTrafficPolicy Local service keeps a LAN client's address on
// the node with the endpoint, answers nothing on a node without one (whose health check port
// says 503), while pods on that node still reach the endpoint through the ClusterIP. It is a
// LoadBalancer: Kubernetes gives only those a healthCheckNodePort.
func checkExternalLocal(t *testing.T, l *lab, sc scenario) {
	l.apply(t, labelled(pinnedPod("loc", "node-1", "nginx"), "loc", "app: loc"))
	l.waitRunning(t, "loc")
	l.apply(t, `apiVersion: v1
kind: Service
metadata:
  name: loc
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: loc}
  ports:
  - port: 80
    nodePort: 30081
`)
	defer l.kubectl("delete", "service", "loc")
	defer l.kubectl("delete", "pod", "loc", "--wait=false")
	node1, node2, router := "192.168.1.11", "192.168.1.12", "192.168.1.1"
	if sc.families[0] == "6" {
		node1, node2, router = "[fd00:c0a8:1::11]", "[fd00:c0a8:1::12]", "fd00:c0a8:1::1"
	}
	eventually(t, 30*time.Second, "a LAN client reaches loc on node-1's NodePort with its own address", func() error {
		out, err := l.in("router", "curl", "-gsS", "--max-time", "3", "http://"+node1+":30081/")
		if err != nil || !strings.Contains(out, "loc: you came from "+router+"\n") {
			return fmt.Errorf("%v: %q (want the router's address %s kept)", err, out, router)
		}
		return nil
	})
	if out, err := l.in("router", "curl", "-gsS", "--max-time", "2", "http://"+node2+":30081/"); err == nil {
		t.Errorf("node-2 has no endpoint of loc but answered its NodePort: %s", out)
	}
	hc := l.kubectl("get", "service", "loc", "-o", "jsonpath={.spec.healthCheckNodePort}")
	for node, want := range map[string]string{node1: "200", node2: "503"} {
		out, _ := l.in("router", "curl", "-gs", "--max-time", "3", "-o", "/dev/null", "-w", "%{http_code}", "http://"+node+":"+hc+"/")
		if strings.TrimSpace(out) != want {
			t.Errorf("health check port %s on %s: HTTP %q, want %s", hc, node, out, want)
		}
	}
	// The node without an endpoint reaching its own NodePort is cluster traffic (kube-proxy's
	// short-circuit): it reaches loc on node-1, which sees the node's own address.
	n2 := strings.Trim(node2, "[]")
	if out, err := l.in("node-2", "curl", "-gsS", "--max-time", "3", "--interface", n2, "http://"+node2+":30081/"); err != nil || !strings.Contains(out, "loc: you came from "+n2+"\n") {
		t.Errorf("node-2 -> its own NodePort of loc (endpoint on node-1): %v: %q, want loc to see %s", err, out, n2)
	}
	ip := l.kubectl("get", "service", "loc", "-o", "jsonpath={.spec.clusterIP}")
	if out, err := l.kubectlErr("exec", "s", "--", "curl", "-gsS", "--max-time", "3", httpURL(ip)); err != nil || !strings.HasPrefix(out, "loc:") {
		t.Errorf("pod s on node-2 -> loc's ClusterIP: %v\n%s", err, out)
	}
	// A hostNetwork pod reaching a Service's external IP, with a Local policy: the node itself (a hostNetwork pod) without an endpoint
	// still reaches the LoadBalancer address, through its own table.
	for _, lb := range waitIngress(t, l, "loc") {
		if out, err := l.in("node-2", "curl", "-gsS", "--max-time", "3", httpURL(lb)); err != nil || !strings.HasPrefix(out, "loc:") {
			t.Errorf("node-2 (no endpoint of loc) -> loc's LoadBalancer address %s: %v\n%s", lb, err, out)
		}
	}
}
