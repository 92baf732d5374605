package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Every map and plain set of the skeleton, and the pick sets, have a layout; interval sets are
// left to nft.
func TestSkeletonLayouts(t *testing.T) {
	w, err := NetlinkElements("")
	if err != nil {
		t.Fatal(err)
	}
	tbl := tableOf(scenarioServices(), labServiceCIDRs, labClusterCIDRs)
	types := setTypes(newSkeleton(), tbl)
	known := func(name string) bool { _, ok := w.(*netlinkElements).layoutOf(name, types); return ok }
	sk := newSkeleton()
	for _, m := range sk.maps {
		if !known(m.Name) {
			t.Errorf("map %s (%s%s) has no netlink layout", m.Name, m.Type, m.TypeOf)
		}
	}
	for _, s := range sk.sets {
		if known(s.Name) == (len(s.Flags) > 0) {
			t.Errorf("set %s (flags %v): layout known = %v", s.Name, s.Flags, known(s.Name))
		}
	}
	for _, name := range []string{"to-pick-v4-tcp-2", "to-ext-pick-v4-tcp-2", "to-nodeport-pick-v4-tcp-2"} {
		if !known(name) {
			t.Errorf("pick set %s has no netlink layout", name)
		}
	}
	if known("affinity-nope") {
		t.Error("a set the table does not hold has a layout")
	}
}

// The bytes the kernel compares: concatenated fields each start on a 4-byte boundary, ports in
// network order, numgen's slot in host order.
func TestEncodeElements(t *testing.T) {
	l, ok := parseLayout("", "ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport")
	if !ok {
		t.Fatal("the backends map's typeof did not parse")
	}
	key, err := encodeFields(l.key, []string{"10.43.0.10", "80", "2"})
	if err != nil {
		t.Fatal(err)
	}
	slot := []byte{2, 0, 0, 0}
	if isBigEndian() {
		slot = []byte{0, 0, 0, 2}
	}
	if want := append([]byte{10, 43, 0, 10, 0, 80, 0, 0}, slot...); !bytes.Equal(key, want) {
		t.Errorf("key: got % x, want % x", key, want)
	}
	value, err := encodeFields(l.value, []string{"10.42.1.5", "8080"})
	if want := []byte{10, 42, 1, 5, 0x1f, 0x90, 0, 0}; err != nil || !bytes.Equal(value, want) {
		t.Errorf("value: got % x, %v; want % x", value, err, want)
	}
	// A single field is not padded.
	if b, err := encodeFields([]field{fieldIPv6}, []string{"2001:cafe:43::10"}); err != nil || len(b) != 16 {
		t.Errorf("one IPv6 address: % x, %v", b, err)
	}
	v, err := encodeVerdict([]string{"goto pick-v4-tcp-2"})
	if err != nil || v.Kind != expr.VerdictGoto || v.Chain != "pick-v4-tcp-2" {
		t.Errorf("verdict: %+v, %v", v, err)
	}
	for _, bad := range [][]string{{"10.43.0.10", "tcp"}, {"2001::1", "tcp", "80"}, {"10.43.0.10", "icmp", "80"}, {"10.43.0.10", "tcp", "70000"}} {
		if _, err := encodeFields([]field{fieldIPv4, fieldProto, fieldPort}, bad); err == nil {
			t.Errorf("%v encoded without an error", bad)
		}
	}
	for _, bad := range []string{"goto", "drop now", "continue x", ""} {
		if _, err := encodeVerdict([]string{bad}); err == nil {
			t.Errorf("verdict %q encoded without an error", bad)
		}
	}
}

func isBigEndian() bool { return binary.NativeEndian.Uint16([]byte{0, 1}) == 1 }

// FuzzEncodeFields: any element text either encodes to the layout's length or is refused, and
// any type text either parses to a layout or is left to nft; nothing panics.
func FuzzEncodeFields(f *testing.F) {
	f.Add("10.43.0.10 . tcp . 80")
	f.Add("2001:cafe:43::10 . udp . 53")
	f.Add("10.43.0.10 . sctp . 65536")
	f.Add(" . . ")
	f.Add("ipv4_addr . inet_proto . inet_service : verdict")
	f.Add("ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport")
	f.Add("inet_service : verdict . verdict")
	f.Add("verdict")
	fields := []field{fieldIPv4, fieldProto, fieldPort}
	f.Fuzz(func(t *testing.T, text string) {
		b, err := encodeFields(fields, strings.Split(text, " . "))
		if err == nil && len(b) != 12 {
			t.Errorf("%q encoded to %d bytes, want 12", text, len(b))
		}
		_, _ = encodeVerdict([]string{text})
		for _, l := range []func() (layout, bool){
			func() (layout, bool) { return parseLayout(text, "") },
			func() (layout, bool) { return parseLayout("", text) },
		} {
			if got, ok := l(); ok && (len(got.key) == 0 || slices.Contains(got.key, fieldVerdict)) {
				t.Errorf("%q parsed to a layout with key %v", text, got.key)
			}
		}
	})
}

// TestNetlinkElementsMatchNFT runs the partial-sync steps of TestPartialSyncsConverge against
// the kernel twice: in one namespace every element-only step goes over netlink, in the other
// every step is a full sync through nft. After each step both hold the same elements in every
// map and set. Needs root.
func TestNetlinkElementsMatchNFT(t *testing.T) {
	nfts := map[string]nsNFT{"netlink": scratchNFT(t, "nlt-netlink"), "nft": scratchNFT(t, "nlt-nft")}
	writer, err := NetlinkElements(nfts["netlink"].path)
	if err != nil {
		t.Fatal(err)
	}
	services := scenarioServices()
	tbl := tableOf(services, labServiceCIDRs, labClusterCIDRs)
	applyFull(t, nfts["netlink"], tbl)
	overNetlink := 0
	for _, s := range append(convergeSteps(), ipv6Steps()...) {
		services[s.key] = s.ports
		if s.ports == nil {
			delete(services, s.key)
		}
		tbl.set(s.key, serviceContribution(s.ports, true))
		if p := tbl.pending(); p.elementsOnly() {
			if err := writeSwaps(writer, tbl, p); err != nil {
				t.Fatalf("%s over netlink: %v", s.name, err)
			}
			tbl.commit(false)
			overNetlink++
		} else {
			applyChanges(t, nfts["netlink"], tbl)
		}
		applyFull(t, nfts["nft"], tableOf(services, labServiceCIDRs, labClusterCIDRs))
		if got, want := kernelElements(t, nfts["netlink"]), kernelElements(t, nfts["nft"]); got != want {
			t.Fatalf("after %q the elements differ:\n--- netlink\n%s\n--- nft\n%s", s.name, got, want)
		}
	}
	if overNetlink < 3 {
		t.Errorf("only %d of the steps were element swaps sent over netlink; the test lost its point", overNetlink)
	}
}

// ipv6Steps add a plain IPv6 service with a NodePort, swap its endpoints and remove it.
func ipv6Steps() []convergeStep {
	six := func(ips ...string) []*servicePort {
		svc := service("six", []string{"2001:cafe:43::20"}, corev1.ServicePort{Port: 80, NodePort: 30090})
		var list []discoveryv1.Endpoint
		for _, ip := range ips {
			list = append(list, ep(ip, true, true, false, "node-2"))
		}
		return servicePorts(svc, []*discoveryv1.EndpointSlice{slice("six", discoveryv1.AddressTypeIPv6, 8080, list...)}, node1)
	}
	return []convergeStep{
		{"a plain IPv6 service", "default/six", six("2001:cafe:42:1::20", "2001:cafe:42:2::20")},
		{"its endpoints swapped", "default/six", six("2001:cafe:42:3::20", "2001:cafe:42:4::20")},
		{"the IPv6 service gone", "default/six", nil},
	}
}

// kernelElements lists every element of every set and map in the table (the skeleton's and
// the pick sets), sorted.
func kernelElements(t *testing.T, nft nsNFT) string {
	t.Helper()
	var lines []string
	for _, kind := range []string{"set", "map"} {
		names, err := nft.List(context.Background(), kind+"s")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			elements, err := nft.ListElements(context.Background(), kind, name)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range elements {
				lines = append(lines, fmt.Sprintf("%s %s : %s", name, strings.Join(e.Key, " . "), strings.Join(e.Value, " . ")))
			}
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestNetlinkListsNames: netlink lists the same chains, sets and maps as nft does, for the
// scenario table with a pick set and an affinity set, and nothing for a table not there. Needs
// root.
func TestNetlinkListsNames(t *testing.T) {
	inNS := scratchNFT(t, "nll")
	w, err := NetlinkElements(inNS.path)
	if err != nil {
		t.Fatal(err)
	}
	lister := w.(nameLister)
	if have, err := lister.listNames(); err != nil || len(have.chains)+len(have.sets)+len(have.maps) != 0 {
		t.Fatalf("no table yet: got %v, %v", have, err)
	}
	applyFull(t, inNS, tableOf(scenarioServices(), labServiceCIDRs, labClusterCIDRs))
	want, err := listPresent(context.Background(), inNS)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lister.listNames()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("netlink lists\n%v\nnft lists\n%v", got, want)
	}
	for _, name := range []string{"to-pick-v4-tcp-2", "affinity-sqfrvwpr-10.42.1.6/8080-10800"} {
		if !got.sets[name] {
			t.Errorf("set %s is not listed: %v", name, got.sets)
		}
	}
	if !got.maps["service-ips-v4"] || !got.chains["plain-v4"] {
		t.Errorf("map service-ips-v4 or chain plain-v4 is not listed: %v", got)
	}
}
