package egressroute

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func TestSlotsAreStable(t *testing.T) {
	var routes []*EgressRoute
	for i := range 40 {
		routes = append(routes, route(fmt.Sprintf("r%d", i), i, Spec{}))
	}
	before := assignSlots(routes)
	if len(before) != 40 {
		t.Fatalf("got %d slots for 40 routes", len(before))
	}
	seen := map[int]string{}
	for name, s := range before {
		if s < 1 || s > MaxRoutes || seen[s] != "" {
			t.Fatalf("slot %d of %s is out of range or shared with %s", s, name, seen[s])
		}
		seen[s] = name
	}
	// Listed in another order, and with a newer route added: no existing route moves.
	shuffled := append([]*EgressRoute{route("newest", 99, Spec{})}, routes...)
	slices.Reverse(shuffled)
	after := assignSlots(shuffled)
	for name, s := range before {
		if after[name] != s {
			t.Errorf("%s moved from slot %d to %d", name, s, after[name])
		}
	}
}

func TestSlotsRunOut(t *testing.T) {
	var routes []*EgressRoute
	for i := range MaxRoutes + 3 {
		routes = append(routes, route(fmt.Sprintf("route-%03d", i), i, Spec{}))
	}
	slots := assignSlots(routes)
	if len(slots) != MaxRoutes {
		t.Fatalf("got %d slots, want %d", len(slots), MaxRoutes)
	}
	for i := MaxRoutes; i < len(routes); i++ {
		if _, ok := slots[routes[i].Name]; ok {
			t.Errorf("%s, among the newest, got a slot", routes[i].Name)
		}
	}
}

func TestSelectSources(t *testing.T) {
	db := map[string]string{"app": "db"}
	pods := []*corev1.Pod{
		pod("data", "db-0", self, corev1.PodRunning, db, "10.42.1.5", "2001:cafe:42:1::5"),
		pod("default", "db-1", self, corev1.PodRunning, db, "10.42.1.6"),
		pod("data", "web", self, corev1.PodRunning, nil, "10.42.1.7"),
		pod("data", "done", self, corev1.PodSucceeded, db, "10.42.1.8"),
		pod("data", "remote", "node-2", corev1.PodRunning, db, "10.42.2.5"),
	}
	s := snap(t, nil, pods...)
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no selectors: the node's podCIDRs", Spec{}, "[10.42.1.0/24 2001:cafe:42:1::/64]"},
		{"empty pod selector: every local running pod", Spec{PodSelector: &metav1.LabelSelector{}},
			"[10.42.1.5/32 2001:cafe:42:1::5/128 10.42.1.6/32 10.42.1.7/32]"},
		{"pods by label", Spec{PodSelector: &metav1.LabelSelector{MatchLabels: db}}, "[10.42.1.5/32 2001:cafe:42:1::5/128 10.42.1.6/32]"},
		{"namespaces by label", Spec{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "data"}}},
			"[10.42.1.5/32 2001:cafe:42:1::5/128 10.42.1.7/32]"},
		{"both", Spec{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "data"}}, PodSelector: &metav1.LabelSelector{MatchLabels: db}},
			"[10.42.1.5/32 2001:cafe:42:1::5/128]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(selectSources(self, &tc.spec, s)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	// Before the node has podCIDRs, pods stand for themselves.
	s.podCIDRs = nil
	if got := selectSources(self, &Spec{}, s); len(got) != 4 {
		t.Errorf("without podCIDRs got %v, want the four running local pods' addresses", got)
	}
}

func TestResolveHop(t *testing.T) {
	nl := newFakeNetlink()
	for _, tc := range []struct {
		name         string
		spec         Spec
		reason, want string
	}{
		{"via on a connected network", Spec{Via: "192.168.4.1"}, "", "link eth1"},
		{"via on the named interface", Spec{Via: "192.168.4.1", Interface: "eth1"}, "", "link eth1"},
		{"via on another interface", Spec{Via: "192.168.4.1", Interface: "eth0"}, ReasonNextHopUnreachable, "reached through eth1, not interface eth0"},
		{"via behind a router", Spec{Via: "192.168.9.1"}, ReasonNextHopUnreachable, "through 192.168.1.1"},
		{"via nowhere", Spec{Via: "172.16.0.1"}, ReasonNextHopUnreachable, "no route to via 172.16.0.1"},
		{"link-local via", Spec{Via: "fe80::1", Interface: "eth1"}, "", "link eth1"},
		{"this node", Spec{Via: "192.168.1.11"}, ReasonNextHopIsThisNode, "this node's own address"},
		{"missing interface", Spec{Interface: "wg0"}, ReasonInterfaceNotFound, "wg0 does not exist"},
		{"interface down", Spec{Interface: "eth2"}, ReasonInterfaceDown, "eth2 is down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, reason, msg := resolveHop(nl, &tc.spec)
			if reason != tc.reason {
				t.Fatalf("reason %q (%s), want %q", reason, msg, tc.reason)
			}
			if reason == "" {
				msg = "link " + h.linkName
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("got %q, want %q", msg, tc.want)
			}
		})
	}
}

// An object that does not parse is reported invalid with the parse error, and gets a slot
// like any other so that fixing it moves nobody.
func TestBrokenObject(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "weft.dev/v1alpha1", "kind": "EgressRoute",
		"metadata": map[string]any{"name": "broken", "generation": int64(3)},
		"spec":     map[string]any{"destinations": "192.168.3.0/24", "via": "192.168.1.1"},
	}}
	routes, broken := parseAll([]*unstructured.Unstructured{u})
	s := snapshot{routes: routes, broken: broken, objects: map[string]*unstructured.Unstructured{"broken": u}, nodes: []string{self}}
	plans := makePlans(self, s, cluster, newFakeNetlink())
	p := plans[0]
	if p.entry.Ready || p.entry.Reason != ReasonInvalid || !strings.Contains(p.entry.Message, "EgressRoute broken") || p.entry.ObservedGeneration != 3 || p.slot == 0 {
		t.Errorf("got entry %+v slot %d", p.entry, p.slot)
	}

	// Its status is still written, though the object as a whole does not parse.
	n := newTestNode(t)
	n.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{GVR: "EgressRouteList"}, u.DeepCopy())
	n.c.dyn = n.dyn
	if err := n.c.sync(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	got, err := n.dyn.Resource(GVR).Get(context.Background(), "broken", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := statusOf(got)
	if c := meta.FindStatusCondition(st.Conditions, ConditionAccepted); c == nil || c.Reason != ReasonInvalid || !strings.Contains(c.Message, "destinations") {
		t.Errorf("Accepted = %+v, want Invalid naming the field", c)
	}
}
