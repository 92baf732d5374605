package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/netns/netnstest"
	"github.com/weftnet/weft/internal/nft"
)

// nsNFT runs nft inside a network namespace, whatever thread the proxy's worker is on: every
// command, so that a full sync in place lists what that namespace's table holds.
type nsNFT struct {
	knftables.Interface
	path string
}

func (n nsNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	return netns.Do(n.path, func() error { return n.Interface.Run(ctx, tx) })
}

func (n nsNFT) Check(ctx context.Context, tx *knftables.Transaction) error {
	return netns.Do(n.path, func() error { return n.Interface.Check(ctx, tx) })
}

func (n nsNFT) List(ctx context.Context, objectType string) (names []string, err error) {
	err = netns.Do(n.path, func() error { names, err = n.Interface.List(ctx, objectType); return err })
	return names, err
}

func (n nsNFT) ListElements(ctx context.Context, objectType, name string) (elements []*knftables.Element, err error) {
	err = netns.Do(n.path, func() error { elements, err = n.Interface.ListElements(ctx, objectType, name); return err })
	return elements, err
}

// scratchTable is the proxy's table in a network namespace of a test's own: written through
// the Kernel, read back with nft.
type scratchTable struct {
	nft.Kernel
	path string
	read nsNFT
}

// scratchNFT makes a network namespace of the test's (or benchmark's) own, removed when it
// ends, and returns the proxy's table in it. Not root: it is skipped.
func scratchNFT(tb testing.TB, name string) scratchTable {
	tb.Helper()
	return tableIn(tb, netns.Path(netnstest.Scratch(tb, name)))
}

// tableIn is the proxy's table in the network namespace at path.
func tableIn(tb testing.TB, path string) scratchTable {
	tb.Helper()
	k, err := nft.New(nft.InetFamily, Table, path)
	if err != nil {
		tb.Fatal(err)
	}
	return scratchTable{Kernel: k, path: path, read: nftIn(tb, path)}
}

// nftIn is nft for table inet Table in the network namespace at path.
func nftIn(tb testing.TB, path string) nsNFT {
	tb.Helper()
	var nft knftables.Interface
	if err := netns.Do(path, func() (err error) { nft, err = knftables.New(knftables.InetFamily, Table); return err }); err != nil {
		tb.Fatal(err)
	}
	return nsNFT{nft, path}
}

// proxyLab is a "node" namespace running the proxy, with a "pod" namespace behind a veth that
// holds several endpoint addresses, each answering with the address it was reached on and
// the address the connection came from.
type proxyLab struct {
	node, pod, sink string
}

func newProxyLab(t *testing.T) *proxyLab {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and nftables tables")
	}
	suffix := fmt.Sprint(os.Getpid() % 100000)
	l := &proxyLab{node: "weft-pxt-node" + suffix, pod: "weft-pxt-pod" + suffix, sink: "weft-pxt-sink" + suffix}
	for _, ns := range []string{l.node, l.pod, l.sink} {
		if err := netns.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = netns.Delete(ns) })
	}
	for _, cmd := range [][]string{
		{"ip", "-n", l.node, "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", l.pod},
		{"ip", "-n", l.node, "addr", "add", "10.42.0.1/24", "dev", "veth0"},
		{"ip", "-n", l.node, "addr", "add", "fd00:42::1/64", "dev", "veth0", "nodad"},
		{"ip", "-n", l.node, "link", "set", "veth0", "up"},
		{"ip", "-n", l.node, "link", "set", "lo", "up"},
		{"ip", "netns", "exec", l.node, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"},
		// Service addresses the proxy leaves alone go on to the "sink", which holds them all
		// and answers "sink" on every port: so a refusal or a timeout can only be the proxy's.
		{"ip", "-n", l.node, "link", "add", "veth1", "type", "veth", "peer", "name", "eth0", "netns", l.sink},
		{"ip", "-n", l.node, "addr", "add", "10.99.0.1/24", "dev", "veth1"},
		{"ip", "-n", l.node, "addr", "add", "fd00:99::1/64", "dev", "veth1", "nodad"},
		{"ip", "-n", l.node, "link", "set", "veth1", "up"},
		{"ip", "-n", l.node, "route", "add", "10.43.0.0/16", "via", "10.99.0.2"},
		{"ip", "-n", l.node, "route", "add", "fd00:43::/112", "via", "fd00:99::2"},
		{"ip", "-n", l.node, "route", "add", "192.168.50.0/24", "via", "10.99.0.2"},
		{"ip", "-n", l.sink, "addr", "add", "10.99.0.2/24", "dev", "eth0"},
		{"ip", "-n", l.sink, "addr", "add", "fd00:99::2/64", "dev", "eth0", "nodad"},
		{"ip", "-n", l.sink, "link", "set", "eth0", "up"},
		{"ip", "-n", l.sink, "link", "set", "lo", "up"},
		{"ip", "-n", l.sink, "route", "add", "local", "10.43.0.0/16", "dev", "lo"},
		{"ip", "-n", l.sink, "route", "add", "local", "fd00:43::/112", "dev", "lo"},
		{"ip", "-n", l.sink, "route", "add", "local", "192.168.50.0/24", "dev", "lo"},
		{"ip", "-n", l.sink, "route", "add", "default", "via", "10.99.0.1"},
		{"ip", "-n", l.sink, "route", "add", "default", "via", "fd00:99::1"},
		{"ip", "-n", l.pod, "addr", "add", "10.42.0.2/24", "dev", "eth0"},
		{"ip", "-n", l.pod, "addr", "add", "10.42.0.3/24", "dev", "eth0"},
		{"ip", "-n", l.pod, "addr", "add", "fd00:42::2/64", "dev", "eth0", "nodad"},
		{"ip", "-n", l.pod, "link", "set", "eth0", "up"},
		{"ip", "-n", l.pod, "link", "set", "lo", "up"},
		{"ip", "-n", l.pod, "route", "add", "default", "via", "10.42.0.1"},
		{"ip", "-n", l.pod, "route", "add", "default", "via", "fd00:42::1"},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, out)
		}
	}
	for _, addr := range []string{"10.42.0.2:8080", "10.42.0.3:8080", "[fd00:42::2]:8080", "sink :80", "sink :81"} {
		ns := l.pod
		if where, port, ok := strings.Cut(addr, " "); ok && where == "sink" {
			ns, addr = l.sink, port
		}
		var ln net.Listener
		if err := netns.Do(netns.Path(ns), func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if ns == l.sink {
					fmt.Fprintln(c, "sink")
				} else {
					fmt.Fprintf(c, "%s from %s\n", c.LocalAddr().(*net.TCPAddr).IP, c.RemoteAddr().(*net.TCPAddr).IP)
				}
				c.Close()
			}
		}()
	}
	return l
}

// dial connects from a namespace and returns the answer: "<endpoint> from <source>".
func dial(ns, addr string) (string, error) {
	var out string
	err := netns.Do(netns.Path(ns), func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		out = strings.TrimSpace(string(b))
		return err
	})
	return out, err
}

// eventually retries dial until check accepts the answer: the proxy syncs asynchronously.
func eventually(t *testing.T, what, ns, addr string, check func(string, error) bool) {
	t.Helper()
	var out string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, err = dial(ns, addr); check(out, err) {
			return
		}
	}
	t.Fatalf("%s (%s from %s): last answer %q, %v", what, addr, ns, out, err)
}

func answers(want string) func(string, error) bool {
	return func(out string, err error) bool { return err == nil && out == want }
}

func kernelService(name string, ips []string, port, nodePort int32) *corev1.Service {
	var fams []corev1.IPFamily
	for _, ip := range ips {
		fams = append(fams, map[bool]corev1.IPFamily{false: corev1.IPv4Protocol, true: corev1.IPv6Protocol}[strings.Contains(ip, ":")])
	}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, ResourceVersion: "1"},
		Spec: corev1.ServiceSpec{ClusterIPs: ips, IPFamilies: fams, Type: corev1.ServiceTypeNodePort,
			Ports: []corev1.ServicePort{{Port: port, NodePort: nodePort, Protocol: corev1.ProtocolTCP}}}}
}

func kernelSlice(svc string, typ discoveryv1.AddressType, ips ...string) *discoveryv1.EndpointSlice {
	var eps []discoveryv1.Endpoint
	for _, ip := range ips {
		eps = append(eps, ep(ip, true, true, false, "n"))
	}
	s := slice(svc, typ, 8080, eps...)
	s.Name = svc + "-" + strings.ToLower(string(typ))
	return s
}

// TestProxyInNamespaces runs the proxy, informers and all, against a fake API server and the
// real kernel of a "node" namespace, and checks what clients see as Services change.
func TestProxyInNamespaces(t *testing.T) {
	l := newProxyLab(t)
	web := kernelService("web", []string{"10.43.0.10", "fd00:43::10"}, 80, 30080)
	sticky := kernelService("sticky", []string{"10.43.0.12"}, 80, 0)
	sticky.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	local := kernelService("local", []string{"10.43.0.13"}, 80, 30081)
	local.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	cidr := &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", ResourceVersion: "1"},
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.43.0.0/16", "fd00:43::/112"}}}
	// internalTrafficPolicy Local: here only "mine" has an endpoint on this node.
	itpMine, itpOther := kernelService("itp-mine", []string{"10.43.0.14"}, 80, 0), kernelService("itp-other", []string{"10.43.0.15"}, 80, 0)
	for _, s := range []*corev1.Service{itpMine, itpOther} {
		s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	}
	otherNode := kernelSlice("itp-other", discoveryv1.AddressTypeIPv4, "10.42.0.2")
	otherNode.Endpoints[0].NodeName = ptr.To("elsewhere")
	// loadBalancerSourceRanges: the node (10.99.0.1 toward the LoadBalancer range) is inside
	// the first service's ranges and outside the second's.
	lb := func(name, ip, ranges string) *corev1.Service {
		s := kernelService(name, []string{"10.43.0." + ip}, 80, 0)
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.LoadBalancerSourceRanges = []string{ranges}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.50." + ip}}
		return s
	}
	client := fake.NewClientset(cidr, itpMine, itpOther, otherNode, kernelSlice("itp-mine", discoveryv1.AddressTypeIPv4, "10.42.0.2"),
		lb("lb-open", "16", "10.99.0.0/24"), lb("lb-closed", "17", "192.168.0.0/16"),
		kernelSlice("lb-open", discoveryv1.AddressTypeIPv4, "10.42.0.2"), kernelSlice("lb-closed", discoveryv1.AddressTypeIPv4, "10.42.0.2"),
		web, sticky, local, kernelService("empty", []string{"10.43.0.11"}, 80, 0),
		kernelSlice("web", discoveryv1.AddressTypeIPv4, "10.42.0.2"),
		kernelSlice("web", discoveryv1.AddressTypeIPv6, "fd00:42::2"),
		kernelSlice("sticky", discoveryv1.AddressTypeIPv4, "10.42.0.2", "10.42.0.3"),
		kernelSlice("local", discoveryv1.AddressTypeIPv4, "10.42.0.2"),
	)
	// Partial syncs that only swap elements go over netlink, as in the agent.
	elements := &countedElements{Kernel: tableIn(t, netns.Path(l.node))}
	p := New(Options{NodeName: "n", ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24"), netip.MustParsePrefix("fd00:42::/64")},
		// Full syncs every 300 ms: they must keep affinity and every answer below as it is.
		Resync: 300 * time.Millisecond, MinSyncInterval: 10 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}, client, elements, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	})

	// From the node: DNATed to the pod, and masqueraded (the node is outside the pod range).
	eventually(t, "ClusterIP from the node", l.node, "10.43.0.10:80", answers("10.42.0.2 from 10.42.0.1"))
	eventually(t, "IPv6 ClusterIP from the node", l.node, "[fd00:43::10]:80", answers("fd00:42::2 from fd00:42::1"))
	eventually(t, "NodePort on the node's address", l.node, "10.42.0.1:30080", answers("10.42.0.2 from 10.42.0.1"))
	eventually(t, "ETP Local NodePort on the node's address", l.node, "10.42.0.1:30081", answers("10.42.0.2 from 10.42.0.1"))
	// Hairpin: the pod reaching itself through its service sees the node's address.
	eventually(t, "hairpin", l.pod, "10.43.0.10:80", answers("10.42.0.2 from 10.42.0.1"))
	eventually(t, "ITP Local with a local endpoint", l.node, "10.43.0.14:80", answers("10.42.0.2 from 10.42.0.1"))
	eventually(t, "LoadBalancer IP from inside its source ranges", l.node, "192.168.50.16:80", answers("10.42.0.2 from 10.42.0.1"))
	for _, dropped := range []string{"10.43.0.15:80", "192.168.50.17:80"} {
		if _, err := dial(l.node, dropped); !timedOut(err) {
			t.Errorf("%s (ITP Local without a local endpoint; LoadBalancer IP outside its source ranges): want a timeout (dropped), got %v", dropped, err)
		}
	}
	for _, refused := range []string{"10.43.0.11:80", "10.43.0.10:81"} {
		if _, err := dial(l.node, refused); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: want connection refused, got %v", refused, err)
		}
	}
	if _, err := dial(l.node, "10.43.0.99:80"); !timedOut(err) {
		t.Errorf("10.43.0.99 (no service holds it): want a timeout (dropped), got %v", err)
	}

	// ClientIP affinity: every connection from one client goes to the endpoint its first went to.
	first, err := dial(l.node, "10.43.0.12:80")
	if err != nil {
		t.Fatal(err)
	}
	stick := func(when string) {
		for range 20 {
			if got, err := dial(l.node, "10.43.0.12:80"); err != nil || got != first {
				t.Fatalf("%s: ClientIP affinity broken: first %q, now %q, %v", when, first, got, err)
			}
		}
	}
	stick("at first")

	// Endpoints change: a second endpoint is used, the first one's removal is obeyed. Each is a
	// partial sync; the affinity memory of the sticky service survives them.
	slices := client.DiscoveryV1().EndpointSlices("default")
	update := func(s *discoveryv1.EndpointSlice) {
		t.Helper()
		s.ResourceVersion = fmt.Sprint(time.Now().UnixNano())
		if _, err := slices.Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// One endpoint for another: only elements change, and they go over netlink.
	sent := elements.n.Load()
	update(kernelSlice("web", discoveryv1.AddressTypeIPv4, "10.42.0.3"))
	for range 10 {
		eventually(t, "the endpoint swapped", l.node, "10.43.0.10:80", answers("10.42.0.3 from 10.42.0.1"))
	}
	if elements.n.Load() == sent {
		t.Error("swapping one endpoint for another did not go over netlink")
	}
	update(kernelSlice("web", discoveryv1.AddressTypeIPv4, "10.42.0.2", "10.42.0.3"))
	eventually(t, "new endpoint used", l.node, "10.43.0.10:80", answers("10.42.0.2 from 10.42.0.1"))
	update(kernelSlice("web", discoveryv1.AddressTypeIPv4, "10.42.0.3"))
	for range 10 {
		eventually(t, "only the remaining endpoint", l.node, "10.43.0.10:80", answers("10.42.0.3 from 10.42.0.1"))
	}
	stick("after partial syncs of another service and periodic full syncs")
	update(kernelSlice("web", discoveryv1.AddressTypeIPv4))
	eventually(t, "no endpoints left: refused", l.node, "10.43.0.10:80", func(_ string, err error) bool { return errors.Is(err, syscall.ECONNREFUSED) })
	if err := client.CoreV1().Services("default").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted service: dropped", l.node, "10.43.0.10:80", func(_ string, err error) bool { return timedOut(err) })
}

// countedElements counts the transactions that only swap elements, which the kernel's table
// sends over netlink.
type countedElements struct {
	nft.Kernel
	n atomic.Int32
}

func (c *countedElements) Run(ctx context.Context, tx *nft.Tx) error {
	err := c.Kernel.Run(ctx, tx)
	if err == nil && tx.ElementsOnly() {
		c.n.Add(1)
	}
	return err
}

func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
