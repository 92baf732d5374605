package e2e

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The NetworkPolicy tests follow the upstream e2e style: namespaces x, y and z, each with pods
// a, b and c serving TCP 80, TCP 81 and UDP 80 (agnhost serve-hostname, as upstream); for each
// case some policies and the full expected reachability matrix, probed with real connections
// from every pod to every pod in both families. One dual-stack lab of two nodes serves every
// case: a and c on node-1, b on node-2, so each matrix covers one node and across nodes.

var (
	netpolNamespaces = []string{"x", "y", "z"}
	netpolPodNames   = []string{"a", "b", "c"}
	netpolPorts      = []string{"80", "81", "u80"} // u80 is UDP 80
)

// peer is a pod of the matrix, "x/a".
type peer string

func (p peer) ns() string   { return strings.Split(string(p), "/")[0] }
func (p peer) name() string { return strings.Split(string(p), "/")[1] }

func netpolPeers() []peer {
	var out []peer
	for _, ns := range netpolNamespaces {
		for _, n := range netpolPodNames {
			out = append(out, peer(ns+"/"+n))
		}
	}
	return out
}

// netpolLab is the shared lab and its pods' addresses by family ("4", "6").
type netpolLab struct {
	*lab
	ips map[peer]map[string]string
}

func (m *netpolLab) ip(p peer, fam string) string { return m.ips[p][fam] }

func netpolPods() string {
	var b strings.Builder
	for _, ns := range netpolNamespaces {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %q, labels: {ns: %q}}\n---\n", ns, ns)
		for _, p := range netpolPodNames {
			node := "node-1"
			if p == "b" {
				node = "node-2"
			}
			fmt.Fprintf(&b, `apiVersion: v1
kind: Pod
metadata: {name: %q, namespace: %q, labels: {pod: %q}}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - {name: cont-80-tcp, image: "registry.k8s.io/e2e-test-images/agnhost:2.53", args: [serve-hostname, --tcp, --http=false, --port, "80"], ports: [{name: serve-80-tcp, containerPort: 80, protocol: TCP}]}
  - {name: cont-81-tcp, image: "registry.k8s.io/e2e-test-images/agnhost:2.53", args: [serve-hostname, --tcp, --http=false, --port, "81"], ports: [{name: serve-81-tcp, containerPort: 81, protocol: TCP}]}
  - {name: cont-80-udp, image: "registry.k8s.io/e2e-test-images/agnhost:2.53", args: [serve-hostname, --udp, --http=false, --port, "80"], ports: [{name: serve-80-udp, containerPort: 80, protocol: UDP}]}
  - {name: probe, image: busybox, command: [sleep, "86400"]}
---
`, p, ns, p, node)
		}
	}
	return b.String()
}

func startNetpolLab(t *testing.T, name string, port int) *netpolLab {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Fatal("the UDP probes need socat on the host: apt-get install socat")
	}
	l := &lab{t: t, bin: weftBin(t), name: name, port: port}
	images := t.TempDir()
	if note := buildAgnhost(t, images); note != "" {
		t.Fatal(note)
	}
	downAtCleanupAndCompareHost(t, l)
	// WEFT_E2E_NETPOL_BACKEND=host-gw runs the same cases across nodes without a tunnel.
	backend := cmp.Or(os.Getenv("WEFT_E2E_NETPOL_BACKEND"), "vxlan")
	l.weft(append([]string{"lab", "up", "--nodes", "2", "--https-listen-port", strconv.Itoa(port), "--images-dir", images, "--backend", backend,
		"--cluster-cidr", "10.42.0.0/16,2001:cafe:42::/56", "--service-cidr", "10.43.0.0/16,2001:cafe:43::/112"}, l.labFlags()...)...)
	l.apply(t, netpolPods())
	m := &netpolLab{lab: l, ips: map[peer]map[string]string{}}
	for _, p := range netpolPeers() {
		var ips []string
		eventually(t, 2*time.Minute, string(p)+" Running", func() error {
			var pod struct {
				Status struct {
					Phase  string
					PodIPs []struct{ IP string }
				}
			}
			l.kubectlJSON(&pod, "get", "pod", "-n", p.ns(), p.name())
			if pod.Status.Phase != "Running" || len(pod.Status.PodIPs) != 2 {
				return fmt.Errorf("phase %q, addresses %v", pod.Status.Phase, pod.Status.PodIPs)
			}
			ips = []string{pod.Status.PodIPs[0].IP, pod.Status.PodIPs[1].IP}
			return nil
		})
		m.ips[p] = map[string]string{}
		for _, ip := range ips {
			if strings.Contains(ip, ":") {
				m.ips[p]["6"] = ip
			} else {
				m.ips[p]["4"] = ip
			}
		}
	}
	return m
}

// target is one probe's destination: an address and a port of netpolPorts; want is the name
// the server answers with when the connection gets through.
type target struct {
	key, addr, port, want string
}

// probeScript connects to every target at once, each with a one-second timeout, and prints
// "key answer" per target.
func probeScript(targets []target) string {
	var b strings.Builder
	b.WriteString(`p() { if [ "$3" = u80 ]; then r=$(echo x | socat -T1 - "UDP:$1:80" 2>/dev/null); else r=$(busybox nc -w 1 "$2" "$3" </dev/null 2>/dev/null); fi; echo "$4 $r"; }` + "\n")
	for _, tg := range targets {
		bracketed := tg.addr
		if strings.Contains(tg.addr, ":") {
			bracketed = "[" + tg.addr + "]"
		}
		fmt.Fprintf(&b, "p %s %s %s %s &\n", bracketed, tg.addr, tg.port, tg.key)
	}
	b.WriteString("wait\n")
	return b.String()
}

// probe runs targets from pod from and says which answered with their wanted name.
func (m *netpolLab) probe(from peer, targets []target) (map[string]bool, error) {
	out, err := m.weftErr("kubectl", "exec", "-n", from.ns(), from.name(), "-c", "probe", "--", "sh", "-c", probeScript(targets))
	if err != nil {
		return nil, fmt.Errorf("probe from %s: %v\n%s", from, err, out)
	}
	got := map[string]bool{}
	want := map[string]string{}
	for _, tg := range targets {
		want[tg.key] = tg.want
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == want[f[0]] {
			got[f[0]] = true
		}
	}
	return got, nil
}

// matrix is the reachability of every port of every pod from every pod, in both families:
// key "from to port family".
type matrix map[string]bool

func mkey(from, to peer, port, fam string) string {
	return fmt.Sprintf("%s %s %s %s", from, to, port, fam)
}

// probeAll probes the whole matrix, the nine sources at once.
func (m *netpolLab) probeAll() (matrix, error) {
	peers := netpolPeers()
	res := matrix{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, from := range peers {
		var targets []target
		for _, to := range peers {
			for _, fam := range []string{"4", "6"} {
				for _, port := range netpolPorts {
					targets = append(targets, target{key: strings.ReplaceAll(mkey(from, to, port, fam), " ", ","), addr: m.ip(to, fam), port: port, want: to.name()})
				}
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := m.probe(from, targets)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, tg := range targets {
				res[strings.ReplaceAll(tg.key, ",", " ")] = got[tg.key]
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return res, nil
}

// expected is the matrix allow predicts; a pod always reaches itself (that never leaves it).
func expected(allow func(from, to peer, port string) bool) matrix {
	out := matrix{}
	for _, from := range netpolPeers() {
		for _, to := range netpolPeers() {
			for _, port := range netpolPorts {
				ok := from == to || allow(from, to, port)
				for _, fam := range []string{"4", "6"} {
					out[mkey(from, to, port, fam)] = ok
				}
			}
		}
	}
	return out
}

// diff draws, per port and family with a difference, the observed matrix: rows are sources,
// columns destinations, "." reachable, "X" blocked, and "!" where the expectation differs.
func diff(want, got matrix) string {
	var b strings.Builder
	peers := netpolPeers()
	for _, fam := range []string{"4", "6"} {
		for _, port := range netpolPorts {
			differs := false
			for _, f := range peers {
				for _, to := range peers {
					differs = differs || want[mkey(f, to, port, fam)] != got[mkey(f, to, port, fam)]
				}
			}
			if !differs {
				continue
			}
			fmt.Fprintf(&b, "port %s, IPv%s (. reachable, X blocked, ! not as expected):\n     ", port, fam)
			for _, to := range peers {
				fmt.Fprintf(&b, "%-4s", to)
			}
			b.WriteString("\n")
			for _, f := range peers {
				fmt.Fprintf(&b, "%-5s", f)
				for _, to := range peers {
					k := mkey(f, to, port, fam)
					c := "."
					if !got[k] {
						c = "X"
					}
					if got[k] != want[k] {
						c = "!"
					}
					fmt.Fprintf(&b, "%-4s", c)
				}
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

// step is one state of a case: what to apply or run, then the matrix expected.
type step struct {
	apply string             // NetworkPolicies (YAML) applied on top of what is there
	run   func(m *netpolLab) // a change at run time: relabel, delete
	allow func(f, t peer, port string) bool
}

// check probes until the matrix is as expected (policies take effect within moments, so a
// few rounds allow for that) and fails with the last observed matrix otherwise.
func (m *netpolLab) check(t *testing.T, want matrix) {
	t.Helper()
	var last string
	for round := 0; round < 4; round++ {
		got, err := m.probeAll()
		if err != nil {
			t.Fatal(err)
		}
		if last = diff(want, got); last == "" {
			return
		}
		time.Sleep(time.Second)
	}
	t.Errorf("reachability differs from the expected:\n%s", last)
}

// clearPolicies deletes every NetworkPolicy and ClusterNetworkPolicy.
func (m *netpolLab) clearPolicies() {
	m.kubectl("delete", "networkpolicies", "--all", "--all-namespaces")
	m.kubectl("delete", "clusternetworkpolicies", "--all")
}

func (m *netpolLab) runCase(t *testing.T, steps []step) {
	m.clearPolicies()
	for _, s := range steps {
		if s.apply != "" {
			m.apply(t, s.apply)
		}
		if s.run != nil {
			s.run(m)
		}
		m.check(t, expected(s.allow))
	}
}

func TestNetworkPolicy(t *testing.T) {
	m := startNetpolLab(t, "e2e-netpol", 16472)
	for _, c := range append(netpolCases(m), cnpCases()...) {
		if !t.Run(c.name, func(t *testing.T) { m.lab.t = t; m.runCase(t, c.steps) }) && c.name == "no-policy" {
			t.Fatal("without any policy not every pod reaches every pod: the lab itself is broken")
		}
	}
	m.lab.t = t
	t.Run("services", func(t *testing.T) { m.lab.t = t; checkNetpolServices(t, m) })
	t.Run("examples", func(t *testing.T) { m.lab.t = t; checkNetpolExamples(t, m) })
	t.Run("windows", func(t *testing.T) { m.lab.t = t; checkNetpolWindows(t, m) })
}
