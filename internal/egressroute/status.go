package egressroute

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// nextStatus is a route's status after this node has its say: its own entry replaced, entries
// of Nodes that no longer exist dropped (any agent may: they all compute the same), and both
// conditions recomputed from all entries. nodes empty means the Node list is unknown.
func nextStatus(gen int64, old Status, entry NodeStatus, invalid []error, nodes []string, now metav1.Time) Status {
	exists := map[string]bool{}
	for _, n := range nodes {
		exists[n] = true
	}
	next := Status{Conditions: append([]metav1.Condition(nil), old.Conditions...)}
	entries := map[string]NodeStatus{entry.Node: entry}
	for _, e := range old.Nodes {
		if e.Node != entry.Node && (len(nodes) == 0 || exists[e.Node]) {
			next.Nodes = append(next.Nodes, e)
			entries[e.Node] = e
		}
	}
	next.Nodes = append(next.Nodes, entry)
	sort.Slice(next.Nodes, func(i, j int) bool { return next.Nodes[i].Node < next.Nodes[j].Node })

	accepted := metav1.Condition{Type: ConditionAccepted, Status: metav1.ConditionTrue, Reason: ReasonValid,
		Message: "the spec is valid for this cluster", ObservedGeneration: gen, LastTransitionTime: now}
	ready := metav1.Condition{Type: ConditionReady, ObservedGeneration: gen, LastTransitionTime: now}
	if len(invalid) > 0 {
		accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, ReasonInvalid, joinErrors(invalid)
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, ReasonInvalid, "no node applies an invalid route; see the Accepted condition"
	} else {
		if len(nodes) == 0 {
			nodes = []string{entry.Node}
		}
		ready.Status, ready.Reason, ready.Message = readiness(gen, nodes, entries)
	}
	meta.SetStatusCondition(&next.Conditions, accepted)
	meta.SetStatusCondition(&next.Conditions, ready)
	return next
}

// readiness is True when every Node has an entry for this generation and all are ready.
func readiness(gen int64, nodes []string, entries map[string]NodeStatus) (metav1.ConditionStatus, string, string) {
	sorted := append([]string(nil), nodes...)
	sort.Strings(sorted)
	var notReady, waiting []string
	for _, n := range sorted {
		e, ok := entries[n]
		switch {
		case !ok || e.ObservedGeneration != gen:
			waiting = append(waiting, n)
		case !e.Ready:
			notReady = append(notReady, fmt.Sprintf("%s (%s)", n, e.Reason))
		}
	}
	if len(notReady) == 0 && len(waiting) == 0 {
		return metav1.ConditionTrue, ReasonAllNodesReady, fmt.Sprintf("applied on all %d nodes", len(sorted))
	}
	var parts []string
	if len(notReady) > 0 {
		parts = append(parts, fmt.Sprintf("not ready on %d of %d nodes: %s", len(notReady), len(sorted), list(notReady)))
	}
	if len(waiting) > 0 {
		parts = append(parts, fmt.Sprintf("waiting for %d of %d nodes to apply generation %d: %s", len(waiting), len(sorted), gen, list(waiting)))
	}
	return metav1.ConditionFalse, ReasonNodesNotReady, strings.Join(parts, "; ") + " (see status.nodes)"
}

// list names a few and counts the rest: a big cluster must not make a huge message.
func list(items []string) string {
	const most = 5
	if len(items) <= most {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:most], ", "), len(items)-most)
}

// writeStatus sends the route's next status if it differs. It starts from the informer's copy
// and re-reads the object only on a conflict: another node wrote its entry meanwhile.
func writeStatus(ctx context.Context, client dynamic.Interface, cached *unstructured.Unstructured, entry NodeStatus, invalid []error, nodes []string) error {
	routes := client.Resource(GVR)
	u := cached
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if u == nil {
			latest, err := routes.Get(ctx, cached.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil // deleted meanwhile: nothing to report on
			}
			if err != nil {
				return err
			}
			u = latest
		}
		if u.GetGeneration() != entry.ObservedGeneration {
			return nil // the spec changed since this sync: the next sync reports on it
		}
		old := statusOf(u)
		next := nextStatus(u.GetGeneration(), old, entry, invalid, nodes, metav1.Now().Rfc3339Copy())
		if equality.Semantic.DeepEqual(next, old) {
			return nil
		}
		obj, err := statusToUnstructured(next)
		if err != nil {
			return err
		}
		update := u.DeepCopy()
		update.Object["status"] = obj
		u = nil // a retry starts from the API server's copy
		_, err = routes.UpdateStatus(ctx, update, metav1.UpdateOptions{})
		return err
	})
}

// statusOf reads the status alone: an object whose spec does not parse still gets its
// status written, and a status that does not parse is rewritten whole.
func statusOf(u *unstructured.Unstructured) Status {
	var st Status
	if m, ok := u.Object["status"].(map[string]any); ok {
		if runtime.DefaultUnstructuredConverter.FromUnstructured(m, &st) != nil {
			return Status{}
		}
	}
	return st
}
