package proxy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// TestPartialSyncsMatchFullInKernel runs the partial-sync steps of TestPartialSyncsConverge
// against the kernel twice: in one namespace as partial syncs (element swaps go over netlink),
// in the other as full syncs (through nft). After each step both hold the same elements in
// every map and set. Needs root.
func TestPartialSyncsMatchFullInKernel(t *testing.T) {
	partial, full := scratchNFT(t, "nlt-partial"), scratchNFT(t, "nlt-full")
	counted := &countedElements{Kernel: partial}
	services := scenarioServices()
	tbl := tableOf(counted, services, labServiceCIDRs, labClusterCIDRs)
	applyFull(t, tbl)
	for _, s := range append(convergeSteps(), ipv6Steps()...) {
		services[s.key] = s.ports
		if s.ports == nil {
			delete(services, s.key)
		}
		tbl.set(s.key, serviceContribution(s.ports, true))
		applyChanges(t, tbl)
		applyFull(t, tableOf(full, services, labServiceCIDRs, labClusterCIDRs))
		if got, want := kernelElements(t, partial.read), kernelElements(t, full.read); got != want {
			t.Fatalf("after %q the elements differ:\n--- partial\n%s\n--- full\n%s", s.name, got, want)
		}
	}
	if n := counted.n.Load(); n < 3 {
		t.Errorf("only %d of the steps were element swaps; the test lost its point", n)
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

// TestListsNames: the table lists, over netlink, the same chains, sets and maps as nft does,
// for the scenario table with a pick set and an affinity set, and nothing for a table not
// there. Needs root.
func TestListsNames(t *testing.T) {
	inNS := scratchNFT(t, "nll")
	ctx := context.Background()
	if have, err := inNS.List(ctx); err != nil || len(have.Chains)+len(have.Sets)+len(have.Maps) != 0 {
		t.Fatalf("no table yet: got %v, %v", have, err)
	}
	applyFull(t, tableOf(inNS, scenarioServices(), labServiceCIDRs, labClusterCIDRs))
	got, err := inNS.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for kind, listed := range map[string]map[string]bool{"chains": got.Chains, "sets": got.Sets, "maps": got.Maps} {
		names, err := inNS.read.List(ctx, kind)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		var have []string
		for n := range listed {
			have = append(have, n)
		}
		slices.Sort(have)
		if !slices.Equal(have, names) {
			t.Errorf("%s: netlink lists\n%v\nnft lists\n%v", kind, have, names)
		}
	}
	for _, name := range []string{"to-pick-v4-tcp-2", "affinity-sqfrvwpr-10.42.1.6/8080-10800"} {
		if !got.Sets[name] {
			t.Errorf("set %s is not listed: %v", name, got.Sets)
		}
	}
	if !got.Maps["service-ips-v4"] || !got.Chains["plain-v4"] {
		t.Errorf("map service-ips-v4 or chain plain-v4 is not listed: %v", got)
	}
}
