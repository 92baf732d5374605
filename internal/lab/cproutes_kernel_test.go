package lab

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/netns/netnstest"
)

// TestSyncRoutesKernel: the control plane's routes follow the desired list in a namespace of the
// test's own (a Node leaving takes its route along), and routes of other protocols stay.
func TestSyncRoutesKernel(t *testing.T) {
	name, peer := netnstest.Scratch(t, "cproutes"), netnstest.Scratch(t, "cproutes-p")
	for _, args := range []string{
		"link add eth0 type veth peer name eth0 netns " + peer,
		"link set eth0 up",
		"addr add 192.168.1.2/24 dev eth0",
		"addr add fd00:c0a8:1::2/64 dev eth0 nodad",
		"route add 10.99.0.0/16 via 192.168.1.1",
	} {
		if out, err := exec.Command("ip", append([]string{"-n", name}, strings.Fields(args)...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", args, err, out)
		}
	}
	r := func(dst, via string) cpRoute { return cpRoute{netip.MustParsePrefix(dst), netip.MustParseAddr(via)} }
	routes := func() string {
		out, err := exec.Command("ip", "-n", name, "route", "show", "proto", "88").CombinedOutput()
		out6, err6 := exec.Command("ip", "-n", name, "-6", "route", "show", "proto", "88").CombinedOutput()
		if err != nil || err6 != nil {
			t.Fatalf("ip route: %v %v: %s %s", err, err6, out, out6)
		}
		return string(out) + string(out6)
	}
	both := []cpRoute{r("10.42.0.0/24", "192.168.1.11"), r("10.42.1.0/24", "192.168.1.12"), r("2001:cafe:42::/64", "fd00:c0a8:1::11"), r("10.43.0.0/16", "192.168.1.11")}
	for i := 0; i < 2; i++ { // a second sync changes nothing
		if err := syncRoutes(name, both); err != nil {
			t.Fatal(err)
		}
	}
	got := routes()
	for _, w := range []string{"10.42.0.0/24 via 192.168.1.11", "10.42.1.0/24 via 192.168.1.12", "10.43.0.0/16 via 192.168.1.11", "2001:cafe:42::/64 via fd00:c0a8:1::11"} {
		if !strings.Contains(got, w) {
			t.Errorf("routes lack %q:\n%s", w, got)
		}
	}
	// node-1 leaves: its pod range goes, the services move to node-2.
	if err := syncRoutes(name, []cpRoute{r("10.42.1.0/24", "192.168.1.12"), r("10.43.0.0/16", "192.168.1.12")}); err != nil {
		t.Fatal(err)
	}
	if got := routes(); strings.Contains(got, "10.42.0.0/24") || strings.Contains(got, "2001:cafe:42::/64") || !strings.Contains(got, "10.43.0.0/16 via 192.168.1.12") {
		t.Errorf("after node-1 left:\n%s", got)
	}
	if out, _ := exec.Command("ip", "-n", name, "route", "show", "10.99.0.0/16").CombinedOutput(); !strings.Contains(string(out), "via 192.168.1.1") {
		t.Errorf("a route of another protocol went: %q", out)
	}
}
