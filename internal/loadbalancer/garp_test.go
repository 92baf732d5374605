package loadbalancer

import (
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/netns/netnstest"
)

// TestTellNeighbours moves an address between two "nodes": the LAN host that had the old
// node's MAC for it learns the new node's at once, in both families.
func TestTellNeighbours(t *testing.T) {
	node, lan := netnstest.Scratch(t, "pxg-node"), netnstest.Scratch(t, "pxg-lan")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("ip", "-n", node, "link", "add", "eth0", "address", "02:00:00:00:00:01", "type", "veth", "peer", "name", "eth0", "netns", lan)
	for _, ns := range []string{node, lan} {
		run("ip", "-n", ns, "link", "set", "eth0", "up")
	}
	run("ip", "-n", node, "addr", "add", "192.168.1.11/24", "dev", "eth0")
	run("ip", "-n", node, "addr", "add", "fd00:1::11/64", "dev", "eth0", "nodad")
	run("ip", "-n", lan, "addr", "add", "192.168.1.1/24", "dev", "eth0")
	run("ip", "-n", lan, "addr", "add", "fd00:1::1/64", "dev", "eth0", "nodad")
	for _, ip := range []string{"192.168.1.225", "fd00:1::225"} {
		// The LAN host knows the address at the MAC of the node that had it before.
		run("ip", "-n", lan, "neigh", "replace", ip, "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
		run("ip", "-n", node, "addr", "add", ip, "dev", "eth0", "nodad")
	}
	time.Sleep(1100 * time.Millisecond) // ARP ignores updates within a second (locktime) of the last
	for _, ip := range []string{"192.168.1.225", "fd00:1::225"} {
		if err := netns.Do(netns.Path(node), func() error {
			link, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			return tellNeighbours(link.Index, link.HardwareAddr, netip.MustParseAddr(ip))
		}); err != nil {
			t.Fatal(err)
		}
		var out string
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if out = run("ip", "-n", lan, "neigh", "show", ip, "dev", "eth0"); strings.Contains(out, "02:00:00:00:00:01") {
				break
			}
		}
		if !strings.Contains(out, "lladdr 02:00:00:00:00:01") {
			t.Errorf("%s: the LAN host still has %q, want the new node's MAC 02:00:00:00:00:01", ip, strings.TrimSpace(out))
		}
	}
}
