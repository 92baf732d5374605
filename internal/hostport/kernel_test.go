package hostport

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/nft"
)

// kernelLab is a node namespace with the bridge weft0 and two pods behind it, and a remote
// namespace on the node's LAN, all the test's own.
type kernelLab struct {
	t                        *testing.T
	node, pod1, pod2, remote string
}

func newKernelLab(t *testing.T) *kernelLab {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds a node, two pods and a LAN peer in network namespaces of its own")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	id := os.Getpid() % 100000
	l := &kernelLab{t: t}
	names := []*string{&l.node, &l.pod1, &l.pod2, &l.remote}
	for i, n := range []string{"node", "pod1", "pod2", "remote"} {
		*names[i] = fmt.Sprintf("weft-hp-%s-%d", n, id)
		if err := netns.Create(*names[i]); err != nil {
			t.Fatal(err)
		}
		ns := *names[i]
		t.Cleanup(func() { _ = netns.Delete(ns) })
	}
	l.ip(l.node, "link add weft0 type bridge")
	l.ip(l.node, "link set weft0 up")
	l.ip(l.node, "addr add 10.42.0.1/24 dev weft0")
	l.ip(l.node, "addr add fd00:42::1/64 dev weft0 nodad")
	l.ip(l.node, "link add eth0 type veth peer name eth0 netns "+l.remote)
	l.ip(l.node, "link set eth0 up")
	l.ip(l.node, "addr add 192.168.1.11/24 dev eth0")
	l.ip(l.node, "addr add fd00:1::11/64 dev eth0 nodad")
	l.ip(l.remote, "link set eth0 up")
	l.ip(l.remote, "addr add 192.168.1.12/24 dev eth0")
	l.ip(l.remote, "addr add fd00:1::12/64 dev eth0 nodad")
	for i, p := range []string{l.pod1, l.pod2} {
		host := fmt.Sprintf("veth%d", i+1)
		l.ip(l.node, fmt.Sprintf("link add %s type veth peer name eth0 netns %s", host, p))
		l.ip(l.node, fmt.Sprintf("link set %s master weft0 up", host))
		l.ip(l.node, fmt.Sprintf("link set %s type bridge_slave hairpin on", host))
		l.ip(p, "link set eth0 up")
		l.ip(p, "link set lo up")
		l.ip(p, fmt.Sprintf("addr add 10.42.0.%d/24 dev eth0", i+5))
		l.ip(p, fmt.Sprintf("addr add fd00:42::%d/64 dev eth0 nodad", i+5))
		l.ip(p, "route add default via 10.42.0.1")
		l.ip(p, "route add default via fd00:42::1")
	}
	l.ip(l.node, "link set lo up")
	l.sysctl(l.node, "net.ipv4.ip_forward=1")
	l.sysctl(l.node, "net.ipv6.conf.all.forwarding=1")
	// Neighbour discovery waits for duplicate address detection of the link-local addresses:
	// the checks start once the node reaches both pods in both families.
	for _, a := range []string{"10.42.0.5", "10.42.0.6", "fd00:42::5", "fd00:42::6", "192.168.1.12", "fd00:1::12"} {
		ok := false
		for i := 0; i < 50 && !ok; i++ {
			ok = exec.Command("ip", "netns", "exec", l.node, "ping", "-c1", "-W1", a).Run() == nil
			if !ok {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if !ok {
			t.Fatalf("the node does not reach %s", a)
		}
	}
	return l
}

func (l *kernelLab) ip(ns, args string) {
	l.t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", ns}, strings.Fields(args)...)...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip -n %s %s: %v: %s", ns, args, err, out)
	}
}

func (l *kernelLab) sysctl(ns, kv string) {
	l.t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", kv).CombinedOutput(); err != nil {
		l.t.Fatalf("sysctl %s in %s: %v: %s", kv, ns, err, out)
	}
}

// serve answers every TCP connection and UDP datagram on port 8080 of the pod (both
// families) with the pod's name.
func (l *kernelLab) serve(ns string) {
	l.t.Helper()
	err := netns.Do(netns.Path(ns), func() error {
		tl, err := net.Listen("tcp", ":8080")
		if err != nil {
			return err
		}
		ul, err := net.ListenPacket("udp", ":8080")
		if err != nil {
			return err
		}
		l.t.Cleanup(func() { tl.Close(); ul.Close() })
		go func() {
			for {
				c, err := tl.Accept()
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, ns)
				c.Close()
			}
		}()
		go func() {
			buf := make([]byte, 100)
			for {
				_, from, err := ul.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = ul.WriteTo([]byte(ns), from)
			}
		}()
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
}

// ask connects from namespace ns (from the local address local, if set) to addr and returns
// the answer, or "" when nothing answers.
func (l *kernelLab) ask(ns, network, local, addr string) string {
	var answer string
	_ = netns.Do(netns.Path(ns), func() error {
		d := net.Dialer{Timeout: time.Second}
		if local != "" {
			if network == "tcp" {
				d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
			} else {
				d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(local)}
			}
		}
		c, err := d.Dial(network, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if network == "udp" {
			if _, err := c.Write([]byte("hostname")); err != nil {
				return err
			}
		}
		b := make([]byte, 100)
		n, _ := c.Read(b)
		answer = string(b[:n])
		return nil
	})
	return answer
}

func TestKernelHostPorts(t *testing.T) {
	l := newKernelLab(t)
	l.serve(l.pod1)
	l.serve(l.pod2)
	ctx := context.Background()
	path := netns.Path(l.node)
	records := t.TempDir()
	// Each CNI command is a process of its own: a fresh Rules, its own kernel handle.
	command := func() *Rules {
		r := New(func() (nft.Kernel, error) { return nft.New(nft.InetFamily, Table, path) }, records, "weft0")
		r.RouteLocalnet = func(bridge string) error {
			return netns.Do(path, func() error { return SetRouteLocalnet(bridge) })
		}
		return r
	}
	ips1, ips2 := addrs("10.42.0.5", "fd00:42::5"), addrs("10.42.0.6", "fd00:42::6")

	// A UDP client that sends before the mapping exists: its conntrack entry must not keep it
	// from the pod once the mapping is added.
	early := exec.Command("ip", "netns", "exec", l.remote, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo x; sleep 0.2; done | nc -u -p 40000 -w 1 192.168.1.11 54323")
	_ = early.Start()
	time.Sleep(300 * time.Millisecond)

	for _, a := range []struct {
		owner string
		maps  []Mapping
		ips   []netip.Addr
	}{
		{"pod1/eth0", []Mapping{{HostPort: 54323, ContainerPort: 8080, HostIP: "127.0.0.1"}, {HostPort: 54323, ContainerPort: 8080, HostIP: "::1"}, {HostPort: 8080, ContainerPort: 8080}}, ips1},
		{"pod2/eth0", []Mapping{{HostPort: 54323, ContainerPort: 8080, HostIP: "192.168.1.11"}, {HostPort: 54323, ContainerPort: 8080, Protocol: "udp", HostIP: "192.168.1.11"}}, ips2},
	} {
		es := Entries(a.maps, a.ips)
		if err := command().Add(ctx, a.owner, es); err != nil {
			t.Fatal(err)
		}
		var ct Conntrack
		_ = netns.Do(path, func() error {
			h, err := netlink.NewHandle()
			if err == nil {
				ct = h
				return FlushUDP(ct, es)
			}
			return err
		})
	}
	_ = early.Wait()

	for _, c := range []struct {
		what, ns, network, local, addr, want string
	}{
		{"LAN peer to node:8080 (no hostIP)", l.remote, "tcp", "", "192.168.1.11:8080", l.pod1},
		{"LAN peer to [node]:8080 (no hostIP, IPv6)", l.remote, "tcp", "", "[fd00:1::11]:8080", l.pod1},
		{"node itself to node:8080", l.node, "tcp", "", "192.168.1.11:8080", l.pod1},
		{"node itself to 127.0.0.1:8080", l.node, "tcp", "", "127.0.0.1:8080", l.pod1},
		{"node itself to 127.0.0.1:54323 (hostIP 127.0.0.1)", l.node, "tcp", "", "127.0.0.1:54323", l.pod1},
		{"node bound to its address to 127.0.0.1:54323 (the e2e spec's curl --interface)", l.node, "tcp", "192.168.1.11", "127.0.0.1:54323", l.pod1},
		{"node bound to its IPv6 address to [::1]:54323 (the e2e spec on IPv6)", l.node, "tcp", "fd00:1::11", "[::1]:54323", l.pod1},
		{"node to node:54323 tcp (hostIP node)", l.node, "tcp", "", "192.168.1.11:54323", l.pod2},
		{"LAN peer to node:54323 tcp (hostIP node)", l.remote, "tcp", "", "192.168.1.11:54323", l.pod2},
		{"node to node:54323 udp", l.node, "udp", "", "192.168.1.11:54323", l.pod2},
		{"LAN peer to node:54323 udp", l.remote, "udp", "", "192.168.1.11:54323", l.pod2},
		{"pod2 to node:8080 (hairpin to another pod)", l.pod2, "tcp", "", "192.168.1.11:8080", l.pod1},
		{"pod1 to node:8080 (hairpin to itself)", l.pod1, "tcp", "", "192.168.1.11:8080", l.pod1},
		{"pod1 to [node]:8080 (hairpin, IPv6)", l.pod1, "tcp", "", "[fd00:1::11]:8080", l.pod1},
	} {
		if got := l.ask(c.ns, c.network, c.local, c.addr); got != c.want {
			t.Errorf("%s: answered by %q, want %q", c.what, got, c.want)
			if os.Getenv("WEFT_HOSTPORT_DEBUG") != "" {
				out, _ := exec.Command("sh", "-c", "ip netns exec "+l.node+" nft list ruleset; ip -n "+l.node+" -6 neigh; ip -n "+l.node+" -6 addr; ip -n "+l.pod1+" -6 route").CombinedOutput()
				t.Logf("%s", out)
			}
		}
	}
	// The conntrack entry of the early UDP client was flushed: its next datagram went to pod2.
	if got := l.ask(l.remote, "udp", "192.168.1.12:40000", "192.168.1.11:54323"); got != l.pod2 {
		t.Errorf("UDP client from before the mapping: answered by %q, want %q", got, l.pod2)
	}
	// hostIP 127.0.0.1 is the node's loopback only.
	if got := l.ask(l.remote, "tcp", "", "192.168.1.11:54323"); got == l.pod1 {
		t.Errorf("a LAN peer reached the 127.0.0.1-only mapping")
	}

	// A host port someone holds: the ADD fails whole, naming the holder.
	err := command().Add(ctx, "thief/eth0", Entries([]Mapping{{HostPort: 1000, ContainerPort: 1}, {HostPort: 8080, ContainerPort: 80}}, addrs("10.42.0.9")))
	if err == nil || !strings.Contains(err.Error(), "pod1/eth0") {
		t.Errorf("conflicting ADD: got %v, want an error naming pod1/eth0", err)
	}
	if err := command().Check(ctx, "pod2/eth0", Entries([]Mapping{{HostPort: 54323, ContainerPort: 8080, HostIP: "192.168.1.11"}, {HostPort: 54323, ContainerPort: 8080, Protocol: "udp", HostIP: "192.168.1.11"}}, ips2)); err != nil {
		t.Errorf("Check pod2: %v", err)
	}

	// DEL: the mapping is gone.
	if err := command().Remove(ctx, "pod1/eth0"); err != nil {
		t.Fatal(err)
	}
	if got := l.ask(l.remote, "tcp", "", "192.168.1.11:8080"); got != "" {
		t.Errorf("after DEL, node:8080 answered by %q", got)
	}
	if got := l.ask(l.remote, "tcp", "", "192.168.1.11:54323"); got != l.pod2 {
		t.Errorf("after pod1's DEL, pod2's mapping answered by %q", got)
	}
	if err := command().Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
}

// Commands that run at once, as a runtime runs CNI commands for many pods, each a process of
// its own with its own kernel handle: they take turns on the records' lock, so every
// attachment's entries are in the table afterwards, and of two attachments that ask for one
// host port at once exactly one gets it.
func TestKernelConcurrentCommands(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: writes nftables in a network namespace of its own")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	ns := fmt.Sprintf("weft-hp-cc-%d", os.Getpid()%100000)
	if err := netns.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(ns) })
	path, records, ctx := netns.Path(ns), t.TempDir(), context.Background()
	command := func() *Rules {
		return New(func() (nft.Kernel, error) { return nft.New(nft.InetFamily, Table, path) }, records, "weft0")
	}
	const pods = 8
	errs := make(chan error, 2*pods)
	for i := range pods {
		go func() {
			errs <- command().Add(ctx, fmt.Sprintf("pod%d/eth0", i), Entries([]Mapping{{HostPort: 9000 + i, ContainerPort: 80}}, addrs(fmt.Sprintf("10.42.0.%d", 10+i))))
		}()
		go func() { // all of them want port 8000
			errs <- command().Add(ctx, fmt.Sprintf("rival%d/eth0", i), Entries([]Mapping{{HostPort: 8000, ContainerPort: 80}}, addrs(fmt.Sprintf("10.42.1.%d", 10+i))))
		}()
	}
	var refused int
	for range 2 * pods {
		switch err := <-errs; {
		case err == nil:
		case strings.Contains(err.Error(), "is already mapped"):
			refused++
		default:
			t.Error(err)
		}
	}
	if refused != pods-1 {
		t.Errorf("%d ADDs of port 8000 were refused, want %d (one gets it)", refused, pods-1)
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", Table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	for i := range pods {
		if !strings.Contains(string(out), fmt.Sprintf("tcp . %d comment \"pod%d/eth0\" : 10.42.0.%d . 80", 9000+i, i, 10+i)) {
			t.Errorf("pod%d's port %d is missing:\n%s", i, 9000+i, out)
		}
	}
	if n := strings.Count(string(out), "tcp . 8000 comment "); n != 1 {
		t.Errorf("port 8000 is mapped %d times:\n%s", n, out)
	}
	for i := range pods {
		go func() { errs <- command().Remove(ctx, fmt.Sprintf("pod%d/eth0", i)) }()
	}
	for range pods {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	out, _ = exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", Table).CombinedOutput()
	if strings.Contains(string(out), "tcp . 90") || !strings.Contains(string(out), "tcp . 8000") {
		t.Errorf("after the pods' DELs, the table holds:\n%s", out)
	}
	// The pods' bridge renamed: the next command's comparison sees it (the hairpin rules name
	// the bridge in their comments) and rewrites the rules.
	renamed := New(func() (nft.Kernel, error) { return nft.New(nft.InetFamily, Table, path) }, records, "cni0")
	if err := renamed.Add(ctx, "pod0/eth0", Entries([]Mapping{{HostPort: 9000, ContainerPort: 80}}, addrs("10.42.0.10"))); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", Table).CombinedOutput()
	if strings.Contains(string(out), `"weft0"`) || !strings.Contains(string(out), `iifname "cni0"`) {
		t.Errorf("after a command on bridge cni0, the table holds:\n%s", out)
	}
}
