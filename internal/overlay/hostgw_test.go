package overlay

import (
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeRoutes is a routing table in memory.
type fakeRoutes struct{ table map[string]netlink.Route }

func (f *fakeRoutes) RouteListFiltered(family int, filter *netlink.Route, mask uint64) ([]netlink.Route, error) {
	var out []netlink.Route
	for _, r := range f.table {
		v4 := r.Dst.IP.To4() != nil
		if (family == netlink.FAMILY_V4) == v4 && r.Protocol == filter.Protocol {
			out = append(out, r)
		}
	}
	return out, nil
}
func (f *fakeRoutes) RouteReplace(r *netlink.Route) error { f.table[r.Dst.String()] = *r; return nil }
func (f *fakeRoutes) RouteDel(r *netlink.Route) error     { delete(f.table, r.Dst.String()); return nil }

func (f *fakeRoutes) dump() string {
	var lines []string
	for _, r := range f.table {
		lines = append(lines, r.Dst.String()+" via "+r.Gw.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func node(name string, cidrs []string, ips ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDRs: cidrs}}
	for _, ip := range ips {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	return n
}

func TestHostGWSync(t *testing.T) {
	f := &fakeRoutes{table: map[string]netlink.Route{}}
	// Someone else's route in the same table must survive every sync.
	_, foreign, _ := net.ParseCIDR("192.168.2.0/24")
	f.table["foreign"] = netlink.Route{Dst: foreign, Gw: net.ParseIP("192.168.1.1")}
	h := NewHostGW(f)
	nodes := []*corev1.Node{
		node("node-1", []string{"10.42.0.0/24", "2001:cafe:42::/64"}, "192.168.1.11", "fd00:c0a8:1::11"),
		node("node-2", []string{"10.42.1.0/24", "2001:cafe:42:1::/64"}, "192.168.1.12", "fd00:c0a8:1::12"),
		node("node-3", []string{"10.42.2.0/24"}, "192.168.1.13"),
	}
	if err := h.Sync("node-1", nodes); err != nil {
		t.Fatal(err)
	}
	want := "10.42.1.0/24 via 192.168.1.12\n10.42.2.0/24 via 192.168.1.13\n192.168.2.0/24 via 192.168.1.1\n2001:cafe:42:1::/64 via fd00:c0a8:1::12"
	if got := f.dump(); got != want {
		t.Errorf("routes after sync:\n%s\nwant:\n%s", got, want)
	}
	// node-3 leaves, node-2 moves: its route follows, node-3's goes.
	nodes = []*corev1.Node{nodes[0], node("node-2", []string{"10.42.1.0/24", "2001:cafe:42:1::/64"}, "192.168.1.22", "fd00:c0a8:1::22")}
	if err := h.Sync("node-1", nodes); err != nil {
		t.Fatal(err)
	}
	want = "10.42.1.0/24 via 192.168.1.22\n192.168.2.0/24 via 192.168.1.1\n2001:cafe:42:1::/64 via fd00:c0a8:1::22"
	if got := f.dump(); got != want {
		t.Errorf("routes after node-3 left:\n%s\nwant:\n%s", got, want)
	}
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if got := f.dump(); got != "192.168.2.0/24 via 192.168.1.1" {
		t.Errorf("Cleanup left:\n%s", got)
	}
}

func TestDesiredReportsNodesWithoutAnAddressOfTheFamily(t *testing.T) {
	_, errs := Desired("a", []*corev1.Node{node("b", []string{"2001:cafe:42::/64"}, "192.168.1.12")})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "no InternalIP of that family") {
		t.Errorf("errors %v", errs)
	}
}
