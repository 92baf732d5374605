package e2e

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dnsDataDir keeps these labs apart from the other e2e labs, which may run at the same time.
const dnsDataDir = "/var/lib/weft-e2e-dns"

// TestDNS: every node answers the cluster DNS itself (internal/dns), in each family. One lab
// per family serves all the cases: real clients (busybox nslookup and wget in pods, dig on a
// node) ask for every kind of record, names follow Services as they come and go, and names
// outside the cluster are forwarded to the lab router's zone lab.example.
func TestDNS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		port     int
		flags    []string
		families []string
		dnsIP    string // the pods' nameserver: --cluster-dns
		dnsIPs   []string
	}{
		{"v4", 16571, nil, []string{"4"}, "10.43.0.10", []string{"10.43.0.10"}},
		{"dual", 16572, []string{"--cluster-cidr", "10.42.0.0/16,2001:cafe:42::/56", "--service-cidr", "10.43.0.0/16,2001:cafe:43::/112"},
			[]string{"4", "6"}, "10.43.0.10", []string{"10.43.0.10", "2001:cafe:43::a"}},
		{"v6", 16573, []string{"--ipv6-masq", "--cluster-cidr", "2001:cafe:42::/56", "--service-cidr", "2001:cafe:43::/112"},
			[]string{"6"}, "2001:cafe:43::a", []string{"2001:cafe:43::a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &lab{t: t, bin: weftBin(t), name: "e2e-dns-" + tc.name, port: tc.port, dir: dnsDataDir}
			upWithHostCheck(t, l, append([]string{"--nodes", "2"}, tc.flags...)...)
			checkDNS(t, l, tc.families, tc.dnsIP, tc.dnsIPs)
			l.weft(append([]string{"lab", "down"}, l.labFlags()...)...)
		})
	}
}

func checkDNS(t *testing.T, l *lab, families []string, dnsIP string, dnsIPs []string) {
	has6 := slices.Contains(families, "6")
	has4 := slices.Contains(families, "4")
	var svc struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct{ ClusterIPs []string }
	}
	l.kubectlJSON(&svc, "get", "svc", "-n", "kube-system", "kube-dns")
	if !slices.Equal(svc.Spec.ClusterIPs, dnsIPs) || svc.Metadata.Labels["k8s-app"] != "kube-dns" {
		t.Fatalf("kube-dns: clusterIPs %v labels %v, want %v and k8s-app=kube-dns", svc.Spec.ClusterIPs, svc.Metadata.Labels, dnsIPs)
	}
	l.kubectl("create", "deployment", "web", "--image", "nginx", "--replicas", "2")
	l.apply(t, dnsManifests)
	l.kubectl("rollout", "status", "deployment/web", "--timeout", "120s")
	l.waitRunning(t, "pet")

	// dig asks the node's own server at the DNS address (no search path: full names).
	dig := func(args ...string) (string, error) {
		short := "+short"
		if slices.Contains(args, "+noshort") {
			short = "+noshort" // the full answer: header with the status, authority with the SOA
		}
		return l.in("node-1", append([]string{"dig", "@" + dnsIP, short, "+time=2", "+tries=2"}, args...)...)
	}
	expect := func(t *testing.T, what string, check func(string) error, args ...string) {
		t.Helper()
		eventually(t, 30*time.Second, what, func() error {
			out, err := dig(args...)
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return check(strings.TrimSpace(out))
		})
	}
	lines := func(n int) func(string) error {
		return func(out string) error {
			got := 0
			for _, line := range strings.Split(out, "\n") {
				if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, ";") {
					got++
				}
			}
			if got != n {
				return fmt.Errorf("%d lines, want %d:\n%s", got, n, out)
			}
			return nil
		}
	}
	contains := func(want string) func(string) error {
		return func(out string) error {
			if !strings.Contains(out, want) {
				return fmt.Errorf("answer lacks %q:\n%s", want, out)
			}
			return nil
		}
	}
	var web, kubernetes struct{ Spec struct{ ClusterIPs []string } }
	l.kubectlJSON(&web, "get", "svc", "web")
	l.kubectlJSON(&kubernetes, "get", "svc", "kubernetes")

	t.Run("pod-nslookup", func(t *testing.T) {
		// busybox asks for kubernetes.default. as it is (no search path for a dotted name).
		out := runToEnd(t, l, "ns", "nslookup", "kubernetes.default")
		if !strings.Contains(out, kubernetes.Spec.ClusterIPs[0]) {
			t.Fatalf("nslookup kubernetes.default:\n%s", out)
		}
	})
	t.Run("pod-wget-short-name", func(t *testing.T) {
		if out := runToEnd(t, l, "get", "wget", "-qO-", "http://web/"); !strings.Contains(out, "you came from") {
			t.Fatalf("wget http://web/:\n%s", out)
		}
	})
	t.Run("records", func(t *testing.T) {
		expect(t, "schema version", contains(`"1.1.0"`), "dns-version.cluster.local", "TXT")
		for _, ip := range web.Spec.ClusterIPs {
			qtype := map[bool]string{true: "AAAA", false: "A"}[strings.Contains(ip, ":")]
			expect(t, "web "+qtype, contains(ip), "web.default.svc.cluster.local", qtype)
			expect(t, "PTR of "+ip, contains("web.default.svc.cluster.local."), "-x", ip)
		}
		if !has6 {
			expect(t, "no AAAA for an IPv4 Service", lines(0), "web.default.svc.cluster.local", "AAAA")
		}
		if !has4 {
			expect(t, "no A for an IPv6 Service", lines(0), "web.default.svc.cluster.local", "A")
		}
		expect(t, "SRV of a named port", contains("0 100 80 web.default.svc.cluster.local."), "_http._tcp.web.default.svc.cluster.local", "SRV")
		expect(t, "ExternalName", contains("external.lab.example."), "ext.default.svc.cluster.local", "CNAME")
		hlType := "A"
		if !has4 {
			hlType = "AAAA"
		}
		expect(t, "headless: one address per ready endpoint", lines(2), "hl.default.svc.cluster.local", hlType)
		expect(t, "headless SRV per endpoint and family", lines(2*len(families)), "_http._tcp.hl.default.svc.cluster.local", "SRV")
		expect(t, "hostname/subdomain", lines(1), "pet.sub.default.svc.cluster.local", hlType)
		expect(t, "over TCP", contains(web.Spec.ClusterIPs[0]), "+tcp", "web.default.svc.cluster.local", hlType)
		// A headless Service with 100 endpoints: too big for UDP, so the answer says TC and
		// dig (as every resolver) asks again over TCP and gets all of it.
		l.apply(t, bigHeadless(hlType == "AAAA", 100))
		defer l.kubectl("delete", "service", "big")
		expect(t, "100 endpoints: TC over UDP", contains(" tc"), "+noshort", "+ignore", "+notcp", "big.default.svc.cluster.local", hlType)
		expect(t, "100 endpoints: the whole answer over TCP", lines(100), "big.default.svc.cluster.local", hlType)
		expect(t, "NXDOMAIN", func(out string) error {
			if !strings.Contains(out, "NXDOMAIN") || !strings.Contains(out, "SOA") {
				return fmt.Errorf("want NXDOMAIN with the SOA:\n%s", out)
			}
			return nil
		}, "+noshort", "nope.default.svc.cluster.local")
	})
	t.Run("follows-services", func(t *testing.T) {
		l.kubectl("create", "service", "clusterip", "late", "--tcp", "81:80")
		var late struct{ Spec struct{ ClusterIP string } }
		l.kubectlJSON(&late, "get", "svc", "late")
		qtype := map[bool]string{true: "AAAA", false: "A"}[strings.Contains(late.Spec.ClusterIP, ":")]
		expect(t, "a new Service answers", contains(late.Spec.ClusterIP), "late.default.svc.cluster.local", qtype)
		l.kubectl("delete", "service", "late")
		expect(t, "a deleted Service is gone", lines(0), "late.default.svc.cluster.local", qtype)
	})
	t.Run("forwarded", func(t *testing.T) {
		expect(t, "external.lab.example via the router", contains("192.168.2.10"), "external.lab.example", "A")
	})
	t.Run("host-network-pod", func(t *testing.T) {
		// ClusterFirstWithHostNet: a pod in the node's own namespace uses the cluster DNS too.
		l.apply(t, `apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  restartPolicy: Never
  containers: [{name: main, image: busybox, command: [nslookup, kubernetes.default]}]
`)
		eventually(t, 90*time.Second, "pod hostnet done", func() error {
			var pod struct{ Status struct{ Phase string } }
			l.kubectlJSON(&pod, "get", "pod", "hostnet")
			if pod.Status.Phase != "Succeeded" && pod.Status.Phase != "Failed" {
				return fmt.Errorf("phase %q", pod.Status.Phase)
			}
			return nil
		})
		if out := l.kubectl("logs", "hostnet"); !strings.Contains(out, kubernetes.Spec.ClusterIPs[0]) {
			t.Fatalf("nslookup from a hostNetwork pod:\n%s", out)
		}
	})
	t.Run("dns-policies", func(t *testing.T) {
		// Default: the node's resolv.conf (the lab router, which knows lab.example); None with
		// dnsConfig: the pod's own nameserver and search path.
		l.apply(t, `apiVersion: v1
kind: Pod
metadata: {name: policy-default}
spec:
  dnsPolicy: Default
  restartPolicy: Never
  containers: [{name: main, image: busybox, command: [nslookup, external.lab.example]}]
---
apiVersion: v1
kind: Pod
metadata: {name: policy-none}
spec:
  dnsPolicy: None
  dnsConfig:
    nameservers: [`+dnsIP+`]
    searches: [default.svc.cluster.local]
  restartPolicy: Never
  containers: [{name: main, image: busybox, command: [wget, -qO-, http://web/]}]
`)
		for pod, want := range map[string]string{"policy-default": "192.168.2.10", "policy-none": "you came from"} {
			eventually(t, 90*time.Second, "pod "+pod+" done", func() error {
				var p struct{ Status struct{ Phase string } }
				l.kubectlJSON(&p, "get", "pod", pod)
				if p.Status.Phase != "Succeeded" && p.Status.Phase != "Failed" {
					return fmt.Errorf("phase %q", p.Status.Phase)
				}
				return nil
			})
			if out := l.kubectl("logs", pod); !strings.Contains(out, want) {
				t.Errorf("%s: log lacks %q:\n%s", pod, want, out)
			}
		}
	})
	t.Run("no-conntrack", func(t *testing.T) {
		// Questions to the DNS address leave no conntrack entry: notrack before any NAT.
		for range 3 {
			_, _ = dig("kubernetes.default.svc.cluster.local")
		}
		out, _ := l.in("node-1", "conntrack", "-L", "-d", dnsIP)
		if !strings.Contains(out, "0 flow entries") {
			t.Fatalf("conntrack entries for %s:\n%s", dnsIP, out)
		}
	})
	t.Run("api-server-unreachable", func(t *testing.T) {
		// node-1 loses the API server (its packets to port 6443 are dropped): its DNS answers
		// from what it last saw.
		for _, cmd := range [][]string{
			{"add", "table", "inet", "e2e-dns-block"},
			{"add", "chain", "inet", "e2e-dns-block", "out", "{ type filter hook output priority 0; }"},
			{"add", "rule", "inet", "e2e-dns-block", "out", "tcp", "dport", "6443", "drop"},
			{"add", "chain", "inet", "e2e-dns-block", "in", "{ type filter hook input priority 0; }"},
			{"add", "rule", "inet", "e2e-dns-block", "in", "tcp", "sport", "6443", "drop"},
		} {
			if out, err := l.in("node-1", append([]string{"nft"}, cmd...)...); err != nil {
				t.Fatalf("block the API server: nft %v: %v\n%s", cmd, err, out)
			}
		}
		defer func() { _, _ = l.in("node-1", "nft", "delete", "table", "inet", "e2e-dns-block") }()
		// Proof that the node is cut off: a Service made now stays unknown to it.
		l.kubectl("create", "service", "clusterip", "unseen", "--tcp", "82:80")
		time.Sleep(3 * time.Second)
		if out, _ := dig("unseen.default.svc.cluster.local"); strings.TrimSpace(out) != "" {
			t.Fatalf("node-1 still hears from the API server: unseen answers %s", out)
		}
		expect(t, "answers without the API server", contains(web.Spec.ClusterIPs[0]), "web.default.svc.cluster.local", map[bool]string{true: "AAAA", false: "A"}[strings.Contains(web.Spec.ClusterIPs[0], ":")])
	})
	t.Run("agent-restart-loses-no-question", func(t *testing.T) {
		// A steady stream of single-try questions (one every 100 ms, 2 s each to answer)
		// across a graceful restart: the agent hands its sockets to a bridge and the next
		// agent takes them from it, so every one is answered.
		pid := agentPID(l, "node-1")
		if pid == 0 {
			t.Fatal("no agent process in node-1")
		}
		want := map[bool]string{true: "AAAA", false: "A"}[strings.Contains(web.Spec.ClusterIPs[0], ":")]
		stream := fmt.Sprintf("for i in $(seq 80); do dig @%s +short +time=2 +tries=1 web.default.svc.cluster.local %s || echo NO-ANSWER; sleep 0.1; done", dnsIP, want)
		done := make(chan string, 1)
		go func() {
			out, _ := l.in("node-1", "sh", "-c", stream)
			done <- out
		}()
		time.Sleep(time.Second)
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM to the agent: %v", err)
		}
		out := <-done
		if got := strings.Count(out, web.Spec.ClusterIPs[0]+"\n"); got != 80 {
			t.Fatalf("%d of 80 questions answered across the agent restart:\n%s", got, out)
		}
		if p := agentPID(l, "node-1"); p == 0 || p == pid {
			t.Fatalf("the agent was not restarted (pid %d, before %d)", p, pid)
		}
	})
	t.Run("agent-restart", func(t *testing.T) {
		killAgent(t, l, "node-1")
		expect(t, "answers after an agent restart", contains(web.Spec.ClusterIPs[0]), "web.default.svc.cluster.local", map[bool]string{true: "AAAA", false: "A"}[strings.Contains(web.Spec.ClusterIPs[0], ":")])
	})
	t.Run("metrics", func(t *testing.T) {
		out, err := l.in("node-1", "curl", "-s", "127.0.0.1:9810/metrics")
		if err != nil || !strings.Contains(out, "weft_dns_requests_total{rcode=\"NOERROR\"") || !strings.Contains(out, "weft_dns_cache_misses_total") {
			t.Fatalf("metrics: %v\n%.2000s", err, out)
		}
	})
}

// runToEnd runs a busybox pod to completion and returns its log.
func runToEnd(t *testing.T, l *lab, name string, command ...string) string {
	t.Helper()
	l.kubectl(append([]string{"run", name, "--image", "busybox", "--restart", "Never", "--"}, command...)...)
	eventually(t, 90*time.Second, "pod "+name+" done", func() error {
		var pod struct{ Status struct{ Phase string } }
		l.kubectlJSON(&pod, "get", "pod", name)
		if pod.Status.Phase != "Succeeded" && pod.Status.Phase != "Failed" {
			return fmt.Errorf("phase %q", pod.Status.Phase)
		}
		return nil
	})
	return l.kubectl("logs", name)
}

// dnsManifests: Service web with its port named (for SRV), a headless Service over the web pods, an ExternalName, and a pod with hostname
// and subdomain under a headless Service of that name.
const dnsManifests = `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: hl}
spec:
  clusterIP: None
  ipFamilyPolicy: PreferDualStack
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: external.lab.example
---
apiVersion: v1
kind: Service
metadata: {name: sub}
spec:
  clusterIP: None
  selector: {app: pet}
  ports: [{name: x, port: 1234}]
---
apiVersion: v1
kind: Pod
metadata: {name: pet, labels: {app: pet}}
spec:
  hostname: pet
  subdomain: sub
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: busybox, command: [sleep, "3600"]}]
`

// bigHeadless is a headless Service without a selector and one EndpointSlice of n ready
// endpoints (addresses nobody holds: only DNS looks at them).
func bigHeadless(v6 bool, n int) string {
	family, addr := "IPv4", func(i int) string { return fmt.Sprintf("10.99.%d.%d", i/250, i%250+1) }
	if v6 {
		family, addr = "IPv6", func(i int) string { return fmt.Sprintf("2001:db8:99::%x", i+1) }
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Service\nmetadata: {name: big}\nspec:\n  clusterIP: None\n  ipFamilies: [%s]\n  ports: [{name: http, port: 80}]\n", family)
	fmt.Fprintf(&b, "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: big-1\n  labels: {kubernetes.io/service-name: big}\naddressType: %s\nports: [{name: http, port: 80}]\nendpoints:\n", family)
	for i := range n {
		fmt.Fprintf(&b, "- addresses: [%q]\n  conditions: {ready: true}\n", addr(i))
	}
	return b.String()
}
