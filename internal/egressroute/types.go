// Package egressroute applies EgressRoutes (weft.dev/v1alpha1, deploy/egressroute-crd.yaml):
// traffic from selected pods to declared networks leaves this node through a declared next hop
// or interface, masqueraded or not. It lets pods reach a subnet only the nodes know a
// route to without a privileged DaemonSet of hand-written rules.
//
// The objects are read through the dynamic client into the plain structs below: no generated
// clientset, so the CRD can change without a code generator.
package egressroute

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GVR is the resource the agent watches.
var GVR = schema.GroupVersionResource{Group: "weft.dev", Version: "v1alpha1", Resource: "egressroutes"}

// EgressRoute is one declared route, cluster-scoped.
type EgressRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec   `json:"spec"`
	Status            Status `json:"status,omitempty"`
}

// Spec says which pods' traffic to which networks goes where.
type Spec struct {
	// Destinations are networks (CIDRs), IPv4 and/or IPv6.
	Destinations []string `json:"destinations"`
	// Via is the next hop's address; Interface the node interface to leave through. At least
	// one is set; both mean "this router on this link" (needed for link-local routers).
	Via       string `json:"via,omitempty"`
	Interface string `json:"interface,omitempty"`
	// Masquerade rewrites the source to the node's address; nil means true (the CRD default).
	Masquerade *bool `json:"masquerade,omitempty"`
	// Absent selectors select everything.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	PodSelector       *metav1.LabelSelector `json:"podSelector,omitempty"`
}

// Masquerades reports whether pods' sources are rewritten (the default).
func (s *Spec) Masquerades() bool { return s.Masquerade == nil || *s.Masquerade }

// Status sums up the nodes' entries in Conditions; each node's agent owns its entry in Nodes.
type Status struct {
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	Nodes      []NodeStatus       `json:"nodes,omitempty"`
}

// NodeStatus is one node's verdict on the route.
type NodeStatus struct {
	Node               string `json:"node"`
	Ready              bool   `json:"ready"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	ObservedGeneration int64  `json:"observedGeneration,omitempty"`
}

// Condition types.
const (
	// ConditionAccepted is False when the spec is invalid for this cluster.
	ConditionAccepted = "Accepted"
	// ConditionReady is True when every Node reports the current generation applied.
	ConditionReady = "Ready"
)

// Reasons, in conditions and node entries.
const (
	ReasonValid              = "Valid"
	ReasonInvalid            = "Invalid"
	ReasonApplied            = "Applied"
	ReasonNextHopIsThisNode  = "NextHopIsThisNode"
	ReasonNextHopUnreachable = "NextHopUnreachable"
	ReasonInterfaceNotFound  = "InterfaceNotFound"
	ReasonInterfaceDown      = "InterfaceDown"
	ReasonTooManyRoutes      = "TooManyRoutes"
	ReasonKernelError        = "KernelError"
	ReasonAllNodesReady      = "AllNodesReady"
	ReasonNodesNotReady      = "NodesNotReady"
)

// FromUnstructured parses an object from the dynamic client. Unknown fields are ignored so an
// older agent keeps working with a newer CRD; wrong types are errors that name the object.
func FromUnstructured(u *unstructured.Unstructured) (*EgressRoute, error) {
	var er EgressRoute
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &er); err != nil {
		// The converter does not say where; encoding/json names the field ("spec.destinations").
		if data, jerr := json.Marshal(u.Object); jerr == nil {
			if jerr = json.Unmarshal(data, &EgressRoute{}); jerr != nil {
				err = jerr
			}
		}
		return nil, fmt.Errorf("EgressRoute %s: %w", u.GetName(), err)
	}
	return &er, nil
}

// statusToUnstructured is the status field of an object to send back.
func statusToUnstructured(s Status) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(&s)
}
