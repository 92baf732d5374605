package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scenario is one lab shape and what the cluster must look like in it.
type scenario struct {
	name         string
	upFlags      []string
	clusterCIDRs []string
	serviceCIDRs []string
	families     []string // "4", "6": the node InternalIP families in cluster order
	extraService string   // a second ServiceCIDR to create
	stopWithKill bool     // SIGKILL the supervisor before `down`
	// checkLifecycle runs the family-independent pod checks: probes, restarts, init
	// containers, log following.
	checkLifecycle bool
	backend        string // "" is the default, vxlan
	// overlayOnly runs just the cross-node checks: the host-gw labs.
	overlayOnly bool
	// keepSourceToExternal: the lab runs with --no-masquerade-cidr 192.168.2.0/24, so the
	// external host sees pods' own addresses once the router has a route back to them.
	keepSourceToExternal bool
	// useExternalIP: nodes have ExternalIPs on 192.168.10.0/24 (and fd00:c0a8:a::/64) and the
	// overlay reaches them there (nodes reached at their external IPs, K3s's --flannel-external-ip).
	useExternalIP bool
}

func TestLabIPv4(t *testing.T) {
	testLab(t, scenario{
		name:           "e2e-v4",
		upFlags:        []string{"--nodes", "3", "--external-subnet"},
		clusterCIDRs:   []string{"10.42.0.0/16"},
		serviceCIDRs:   []string{"10.43.0.0/16"},
		families:       []string{"4"},
		extraService:   "10.44.0.0/24",
		checkLifecycle: true,
	})
}

func TestLabIPv6(t *testing.T) {
	testLab(t, scenario{
		name:         "e2e-v6",
		upFlags:      []string{"--nodes", "3", "--external-subnet", "--ipv6-masq", "--cluster-cidr", "2001:cafe:42::/56", "--service-cidr", "2001:cafe:43::/112"},
		clusterCIDRs: []string{"2001:cafe:42::/56"},
		serviceCIDRs: []string{"2001:cafe:43::/112"},
		families:     []string{"6"},
		extraService: "2001:cafe:44::/112",
	})
}

func TestLabDualStack(t *testing.T) {
	testLab(t, scenario{
		name: "e2e-dual",
		upFlags: []string{"--nodes", "3", "--external-subnet", "--no-masquerade-cidr", "192.168.2.0/24", "--use-external-ip",
			"--cluster-cidr", "10.42.0.0/16,2001:cafe:42::/56", "--service-cidr", "10.43.0.0/16,2001:cafe:43::/112"},
		keepSourceToExternal: true,
		useExternalIP:        true,
		clusterCIDRs:         []string{"10.42.0.0/16", "2001:cafe:42::/56"},
		serviceCIDRs:         []string{"10.43.0.0/16", "2001:cafe:43::/112"},
		families:             []string{"4", "6"},
		extraService:         "10.44.0.0/24",
		stopWithKill:         true,
	})
}

func testLab(t *testing.T, sc scenario) {
	l := &lab{t: t, bin: weftBin(t), name: sc.name, port: 16443}
	downAtCleanupAndCompareHost(t, l)

	up := append([]string{"lab", "up", "--https-listen-port", strconv.Itoa(l.port)}, l.labFlags()...)
	out := l.weft(append(up, sc.upFlags...)...)
	t.Logf("lab up:\n%s", out)
	for _, want := range []string{"is ready", "admin.kubeconfig", "weft kubectl get nodes"} {
		if !strings.Contains(out, want) {
			t.Errorf("lab up output lacks %q", want)
		}
	}
	if again := l.weft(append(up, sc.upFlags...)...); !strings.Contains(again, "already running") {
		t.Errorf("a second lab up should report the running lab, said:\n%s", again)
	}

	if sc.overlayOnly {
		l.apply(t, pinnedPod("b", "node-1", "nginx"))
		bIPs := l.waitRunning(t, "b")
		t.Run("overlay", func(t *testing.T) { checkOverlay(t, l, sc, bIPs) })
		l.weft(append([]string{"lab", "down"}, l.labFlags()...)...)
		return
	}
	t.Run("nodes", func(t *testing.T) { checkNodes(t, l, sc) })
	t.Run("servicecidr", func(t *testing.T) { checkServiceCIDRs(t, l, sc) })
	t.Run("ping", func(t *testing.T) { checkPing(t, l, sc) })
	t.Run("status", func(t *testing.T) {
		status := l.weft(append([]string{"lab", "status"}, l.labFlags()...)...)
		for _, want := range []string{"running", "https://127.0.0.1:" + strconv.Itoa(l.port), "node-3", "Ready", "kube-apiserver", dataDir} {
			if !strings.Contains(status, want) {
				t.Errorf("lab status lacks %q:\n%s", want, status)
			}
		}
	})
	t.Run("pods", func(t *testing.T) { checkPods(t, l, sc) })
	if sc.checkLifecycle {
		t.Run("lifecycle", func(t *testing.T) { checkLifecycle(t, l) })
	}
	if sc.stopWithKill {
		t.Run("down-after-sigkill", func(t *testing.T) { killSupervisor(t, l) })
	}
	out = l.weft(append([]string{"lab", "down"}, l.labFlags()...)...)
	if !strings.Contains(out, "is down") {
		t.Errorf("lab down said: %s", out)
	}
	if netnsList := run(t, nil, "ip", "netns", "list"); strings.Contains(netnsList, "weft-"+sc.name+"-") {
		t.Errorf("namespaces left after down:\n%s", netnsList)
	}
	if _, err := os.Stat(dataDir + "/labs/" + sc.name); !os.IsNotExist(err) {
		t.Errorf("state directory left after down (stat: %v)", err)
	}
}

type nodeList struct {
	Items []struct {
		Metadata struct{ Name string }
		Spec     struct{ PodCIDRs []string }
		Status   struct {
			Addresses  []struct{ Type, Address string }
			Conditions []struct{ Type, Status string }
		}
	}
}

func checkNodes(t *testing.T, l *lab, sc scenario) {
	var nodes nodeList
	l.kubectlJSON(&nodes, "get", "nodes")
	if len(nodes.Items) != 3 {
		t.Fatalf("want 3 nodes, got %d", len(nodes.Items))
	}
	seenCIDR := map[string]bool{}
	for i, n := range nodes.Items {
		want := fmt.Sprintf("node-%d", i+1)
		if n.Metadata.Name != want {
			t.Errorf("node %d is %s, want %s", i, n.Metadata.Name, want)
		}
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == "Ready" && c.Status == "True")
		}
		if !ready {
			t.Errorf("%s is not Ready: %+v", want, n.Status.Conditions)
		}
		var internal []string
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				internal = append(internal, a.Address)
			}
		}
		var wantIPs []string
		for _, f := range sc.families {
			if f == "4" {
				wantIPs = append(wantIPs, fmt.Sprintf("192.168.1.%d", 11+i))
			} else {
				wantIPs = append(wantIPs, fmt.Sprintf("fd00:c0a8:1::%d", 11+i))
			}
		}
		if strings.Join(internal, ",") != strings.Join(wantIPs, ",") {
			t.Errorf("%s InternalIPs = %v, want %v", want, internal, wantIPs)
		}
		if len(n.Spec.PodCIDRs) != len(sc.clusterCIDRs) {
			t.Fatalf("%s podCIDRs = %v, want one in each of %v", want, n.Spec.PodCIDRs, sc.clusterCIDRs)
		}
		for j, c := range n.Spec.PodCIDRs {
			pc, cluster := netip.MustParsePrefix(c), netip.MustParsePrefix(sc.clusterCIDRs[j])
			if !cluster.Contains(pc.Addr()) || pc.Bits() <= cluster.Bits() {
				t.Errorf("%s podCIDR %s is not inside %s", want, c, cluster)
			}
			if seenCIDR[c] {
				t.Errorf("podCIDR %s given to two nodes", c)
			}
			seenCIDR[c] = true
		}
	}
	wide := l.kubectl("get", "nodes", "-o", "wide")
	if !strings.Contains(wide, "INTERNAL-IP") || !strings.Contains(wide, "node-2") {
		t.Errorf("kubectl get nodes -o wide:\n%s", wide)
	}
}

type serviceCIDRList struct {
	Items []struct {
		Metadata struct{ Name string }
		Spec     struct{ CIDRs []string }
		Status   struct {
			Conditions []struct{ Type, Status string }
		}
	}
}

func checkServiceCIDRs(t *testing.T, l *lab, sc scenario) {
	var list serviceCIDRList
	l.kubectlJSON(&list, "get", "servicecidr")
	found := false
	for _, s := range list.Items {
		if s.Metadata.Name == "kubernetes" {
			found = true
			if strings.Join(s.Spec.CIDRs, ",") != strings.Join(sc.serviceCIDRs, ",") {
				t.Errorf("ServiceCIDR kubernetes = %v, want %v", s.Spec.CIDRs, sc.serviceCIDRs)
			}
		}
	}
	if !found {
		t.Fatalf("no ServiceCIDR named kubernetes: %+v", list)
	}
	// When the first range fills up, a second one is added at run time.
	manifest := fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata:\n  name: newcidr1\nspec:\n  cidrs:\n  - %s\n", sc.extraService)
	path := t.TempDir() + "/newcidr1.yaml"
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	l.kubectl("apply", "-f", path)
	eventually(t, 30*time.Second, "ServiceCIDR newcidr1 Ready", func() error {
		var one struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
		l.kubectlJSON(&one, "get", "servicecidr", "newcidr1")
		for _, c := range one.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", one.Status.Conditions)
	})
	if table := l.kubectl("get", "servicecidr"); !strings.Contains(table, sc.extraService) {
		t.Errorf("kubectl get servicecidr lacks %s:\n%s", sc.extraService, table)
	}
}

func checkPing(t *testing.T, l *lab, sc scenario) {
	targets := []string{"192.168.1.12", "192.168.2.10"} // the LAN always carries IPv4
	if strings.Contains(strings.Join(sc.families, ""), "6") {
		targets = append(targets, "fd00:c0a8:1::12", "fd00:c0a8:2::10")
	}
	for _, dst := range targets {
		if out, err := l.in("node-1", "ping", "-c", "1", "-W", "2", dst); err != nil {
			t.Errorf("node-1 cannot ping %s: %v\n%s", dst, err, out)
		}
	}
	// A subnet only the nodes route to: the external host answers HTTP and sees the node's address.
	out, err := l.in("node-1", "curl", "-sS", "--max-time", "5", "http://192.168.2.10/")
	if err != nil || !strings.Contains(out, "you came from 192.168.1.11") {
		t.Errorf("node-1 -> http://192.168.2.10/: %v\n%s", err, out)
	}
	// The external subnet is reached through a static route on each node: a subnet only the nodes route to.
	if routes, _ := l.in("node-1", "ip", "route"); !strings.Contains(routes, "192.168.2.0/24 via 192.168.1.1") {
		t.Errorf("node-1 lacks the static route to 192.168.2.0/24:\n%s", routes)
	}
	// The host itself has no way into the lab: only the API port is forwarded.
	if out, err := runErr(nil, 10*time.Second, "ping", "-c", "1", "-W", "1", "192.168.1.12"); err == nil {
		t.Errorf("the host reached a lab node directly; the lab leaks into the host network:\n%s", out)
	}
}

// killSupervisor kills the supervisor without warning: `down` must still remove everything.
func killSupervisor(t *testing.T, l *lab) {
	pidText, err := os.ReadFile(dataDir + "/labs/" + l.name + "/supervisor.pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill supervisor %d: %v", pid, err)
	}
	time.Sleep(500 * time.Millisecond)
	status, _ := l.weftErr(append([]string{"lab", "status"}, l.labFlags()...)...)
	if !strings.Contains(status, "NOT RUNNING") {
		t.Errorf("status after the supervisor died should say so:\n%s", status)
	}
}
