package egressroute

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/weftnet/weft/internal/nft"
)

// FuzzFromUnstructured feeds any JSON object through what an EgressRoute meets on a node:
// parsing, validation, planning and the ruleset. Whatever the API server lets through (an older
// CRD, a hand-edited object), nothing may panic, and what Validate accepts must plan cleanly
// (planning trusts it to have parsed every address). Seeds: testdata/fuzz/FuzzFromUnstructured.
func FuzzFromUnstructured(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"corp-net"},"spec":{"destinations":["192.168.2.0/24"],"via":"192.168.1.1"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj map[string]any
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			return
		}
		u := &unstructured.Unstructured{Object: obj}
		er, err := FromUnstructured(u)
		if err != nil {
			return
		}
		back, err := FromUnstructured(toUnstructured(t, er))
		if err != nil || !equality.Semantic.DeepEqual(back.Spec, er.Spec) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, er.Spec, back.Spec)
		}
		if len(Validate(&er.Spec, cluster)) > 0 {
			return
		}
		plans := makePlans(self, snapshot{routes: []*EgressRoute{er}, podCIDRs: prefixes("10.42.1.0/24")}, cluster, newFakeNetlink())
		table := nft.NewTable(nft.NewFake(nft.InetFamily, Table), tableComment)
		for owner, c := range contents(plans, cluster) {
			table.Set(owner, c)
		}
		if tx, err := table.Sync(t.Context(), true); err != nil {
			t.Fatalf("a valid route made a ruleset nftables refuses: %v\n%s", err, tx)
		}
	})
}

// FuzzValidate checks that every problem is reported as an error, never a panic, and that
// an accepted destination and next hop are in the form the kernel is given.
func FuzzValidate(f *testing.F) {
	f.Add("192.168.3.0/24", "192.168.1.1", "")
	f.Add("2001:db8:3::/64", "fe80::1", "eth1")
	f.Fuzz(func(t *testing.T, dst, via, iface string) {
		spec := Spec{Destinations: []string{dst}, Via: via, Interface: iface}
		if len(Validate(&spec, cluster)) > 0 {
			return
		}
		p := prefixes(dst)[0]
		if p != p.Masked() || p.Addr().Zone() != "" {
			t.Errorf("accepted destination %q", dst)
		}
		if iface != "" && checkInterfaceName(iface) != "" {
			t.Errorf("accepted interface %q", iface)
		}
	})
}
