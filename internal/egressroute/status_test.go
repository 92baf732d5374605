package egressroute

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
)

var nodes3 = []string{"node-1", "node-2", "node-3"}

func ready(node string) NodeStatus {
	return NodeStatus{Node: node, Ready: true, Reason: ReasonApplied, ObservedGeneration: 1}
}

func TestNextStatus(t *testing.T) {
	then, now := metav1.NewTime(time.Unix(1000, 0)), metav1.NewTime(time.Unix(2000, 0))
	for _, tc := range []struct {
		name         string
		have         []NodeStatus
		entry        NodeStatus
		invalid      []error
		wantStatus   metav1.ConditionStatus
		wantReason   string
		wantMessage  string
		wantNodes    string
		wantAccepted metav1.ConditionStatus
	}{
		{"first node", nil, ready("node-1"), nil, metav1.ConditionFalse, ReasonNodesNotReady,
			"waiting for 2 of 3 nodes to apply generation 1: node-2, node-3", "node-1", metav1.ConditionTrue},
		{"last node", []NodeStatus{ready("node-2"), ready("node-3")}, ready("node-1"), nil, metav1.ConditionTrue, ReasonAllNodesReady,
			"applied on all 3 nodes", "node-1 node-2 node-3", metav1.ConditionTrue},
		{"one node cannot", []NodeStatus{{Node: "node-2", Reason: ReasonNextHopUnreachable, ObservedGeneration: 1}, ready("node-3")}, ready("node-1"), nil,
			metav1.ConditionFalse, ReasonNodesNotReady, "not ready on 1 of 3 nodes: node-2 (NextHopUnreachable)", "node-1 node-2 node-3", metav1.ConditionTrue},
		{"an older generation counts as waiting", []NodeStatus{ready("node-2"), {Node: "node-3", Ready: true}}, ready("node-1"), nil,
			metav1.ConditionFalse, ReasonNodesNotReady, "waiting for 1 of 3 nodes to apply generation 1: node-3", "node-1 node-2 node-3", metav1.ConditionTrue},
		{"a deleted node's entry goes", []NodeStatus{ready("node-2"), ready("node-3"), ready("node-9")}, ready("node-1"), nil,
			metav1.ConditionTrue, ReasonAllNodesReady, "applied on all 3 nodes", "node-1 node-2 node-3", metav1.ConditionTrue},
		{"invalid", nil, NodeStatus{Node: "node-1", Reason: ReasonInvalid, ObservedGeneration: 1}, []error{errors.New("via: x"), errors.New("interface: y")},
			metav1.ConditionFalse, ReasonInvalid, "see the Accepted condition", "node-1", metav1.ConditionFalse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := Status{Nodes: tc.have, Conditions: []metav1.Condition{{Type: ConditionAccepted, Status: metav1.ConditionTrue, Reason: ReasonValid, LastTransitionTime: then}}}
			st := nextStatus(1, old, tc.entry, tc.invalid, nodes3, now)
			r := meta.FindStatusCondition(st.Conditions, ConditionReady)
			if r == nil || r.Status != tc.wantStatus || r.Reason != tc.wantReason || !strings.Contains(r.Message, tc.wantMessage) || r.ObservedGeneration != 1 {
				t.Errorf("Ready = %+v, want %s %s %q", r, tc.wantStatus, tc.wantReason, tc.wantMessage)
			}
			var names []string
			for _, n := range st.Nodes {
				names = append(names, n.Node)
			}
			if strings.Join(names, " ") != tc.wantNodes {
				t.Errorf("nodes %v, want %s", names, tc.wantNodes)
			}
			a := meta.FindStatusCondition(st.Conditions, ConditionAccepted)
			if a.Status != tc.wantAccepted {
				t.Errorf("Accepted = %+v, want %s", a, tc.wantAccepted)
			}
			// A condition keeps its transition time while its status holds.
			if wantTime := map[bool]metav1.Time{true: then, false: now}[tc.wantAccepted == metav1.ConditionTrue]; !a.LastTransitionTime.Equal(&wantTime) {
				t.Errorf("Accepted changed at %v, want %v", a.LastTransitionTime, wantTime)
			}
			if tc.invalid != nil && a.Message != "via: x; interface: y" {
				t.Errorf("Accepted message %q, want every problem", a.Message)
			}
		})
	}
}

func statusUpdates(actions []clienttesting.Action) int {
	n := 0
	for _, a := range actions {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func getRoute(t *testing.T, n *testNode, name string) *EgressRoute {
	t.Helper()
	u, err := n.dyn.Resource(GVR).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	er, err := FromUnstructured(u)
	if err != nil {
		t.Fatal(err)
	}
	return er
}

// Three agents report one after another; each writes only when something changed, and the
// last one's write turns the route Ready.
func TestWriteStatusAcrossNodes(t *testing.T) {
	er := route("corp-net", 0, Spec{Destinations: []string{"192.168.2.0/24"}, Via: "192.168.1.1"})
	n := newTestNode(t, er)
	ctx := context.Background()
	for i, node := range nodes3 {
		cached, err := n.dyn.Resource(GVR).Get(ctx, er.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := writeStatus(ctx, n.dyn, cached, ready(node), nil, nodes3); err != nil {
			t.Fatal(err)
		}
		if got := statusUpdates(n.dyn.Actions()); got != i+1 {
			t.Errorf("after %s: %d status updates, want %d", node, got, i+1)
		}
	}
	got := getRoute(t, n, er.Name)
	if c := meta.FindStatusCondition(got.Status.Conditions, ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v, want True", c)
	}
	// Nothing changed: no write.
	cached, _ := n.dyn.Resource(GVR).Get(ctx, er.Name, metav1.GetOptions{})
	if err := writeStatus(ctx, n.dyn, cached, ready("node-2"), nil, nodes3); err != nil {
		t.Fatal(err)
	}
	if got := statusUpdates(n.dyn.Actions()); got != 3 {
		t.Errorf("an unchanged status was written (%d updates)", got)
	}
}

// Another node wrote first: the update conflicts, and the retry starts from the latest object
// so the other node's entry survives.
func TestWriteStatusRetriesConflicts(t *testing.T) {
	er := route("corp-net", 0, Spec{Destinations: []string{"192.168.2.0/24"}, Via: "192.168.1.1"})
	er.Status.Nodes = []NodeStatus{ready("node-2")}
	n := newTestNode(t, er)
	stale := toUnstructured(t, route("corp-net", 0, er.Spec)) // the informer has not seen node-2's write
	conflicts := 1
	n.dyn.PrependReactor("update", "egressroutes", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(GVR.GroupResource(), "corp-net", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	if err := writeStatus(context.Background(), n.dyn, stale, ready("node-1"), nil, nodes3); err != nil {
		t.Fatal(err)
	}
	got := getRoute(t, n, er.Name)
	if len(got.Status.Nodes) != 2 || got.Status.Nodes[0].Node != "node-1" || got.Status.Nodes[1].Node != "node-2" {
		t.Errorf("nodes %+v, want node-1 and node-2", got.Status.Nodes)
	}
}

// The spec changed since the sync judged it: report nothing, the next sync will.
func TestWriteStatusSkipsNewerGenerations(t *testing.T) {
	er := route("corp-net", 0, Spec{Destinations: []string{"192.168.2.0/24"}, Via: "192.168.1.1"})
	er.Generation = 2
	n := newTestNode(t, er)
	entry := ready("node-1") // judged generation 1
	if err := writeStatus(context.Background(), n.dyn, toUnstructured(t, er), entry, nil, nodes3); err != nil {
		t.Fatal(err)
	}
	if got := statusUpdates(n.dyn.Actions()); got != 0 {
		t.Errorf("%d status updates for a generation this node has not judged", got)
	}
}
