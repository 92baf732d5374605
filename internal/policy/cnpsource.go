package policy

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// CNPResource is the ClusterNetworkPolicy resource weft enforces.
var CNPResource = schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: "v1alpha2", Resource: "clusternetworkpolicies"}

// cnpServed says whether the API server serves ClusterNetworkPolicies (their CRD is installed).
func (p *Policy) cnpServed() bool {
	if p.client == nil {
		return false
	}
	list, err := p.client.Discovery().ServerResourcesForGroupVersion(CNPResource.GroupVersion().String())
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == CNPResource.Resource {
			return true
		}
	}
	return false
}

// listCNPs reads the informer's objects as typed policies; one that does not decode is an
// error (the sync retries), never a policy silently left out.
func listCNPs(l cache.GenericLister) ([]*cnp.ClusterNetworkPolicy, error) {
	objs, err := l.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*cnp.ClusterNetworkPolicy, 0, len(objs))
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("clusternetworkpolicy: unexpected %T", o)
		}
		var c cnp.ClusterNetworkPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &c); err != nil {
			return nil, fmt.Errorf("clusternetworkpolicy %s: %w", u.GetName(), err)
		}
		out = append(out, &c)
	}
	return out, nil
}
