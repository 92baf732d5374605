package policy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/weftnet/weft/internal/syncrunner"
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

// cnpPoll is how often an agent looks for the ClusterNetworkPolicy CRD until it is served.
const cnpPoll = 5 * time.Second

// cnpWatch holds the ClusterNetworkPolicy informer once there is one.
type cnpWatch struct {
	mu     sync.Mutex
	lister cache.GenericLister
	synced cache.InformerSynced
}

// start makes and starts the informer; h, when given, is added before it starts.
func (c *cnpWatch) start(ctx context.Context, dyn dynamic.Interface, resync time.Duration, h cache.ResourceEventHandler) cache.SharedIndexInformer {
	f := dynamicinformer.NewDynamicSharedInformerFactory(dyn, resync)
	inf := f.ForResource(CNPResource)
	if h != nil {
		_, _ = inf.Informer().AddEventHandler(h)
	}
	f.Start(ctx.Done())
	c.mu.Lock()
	c.lister, c.synced = inf.Lister(), inf.Informer().HasSynced
	c.mu.Unlock()
	return inf.Informer()
}

func (c *cnpWatch) started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lister != nil
}

// list is every ClusterNetworkPolicy; none while there is no informer. An informer that has
// not listed yet is an error: the sync retries rather than enforce without the admin tier.
func (c *cnpWatch) list() ([]*cnp.ClusterNetworkPolicy, error) {
	c.mu.Lock()
	l, synced := c.lister, c.synced
	c.mu.Unlock()
	if l == nil {
		return nil, nil
	}
	if !synced() {
		return nil, fmt.Errorf("clusternetworkpolicies not listed yet")
	}
	return listCNPs(l)
}

// waitForCNPs starts the informer once the CRD is served, then asks for a sync.
func (p *Policy) waitForCNPs(ctx context.Context, c *cnpWatch, dyn dynamic.Interface, h cache.ResourceEventHandler, runner *syncrunner.Runner) {
	t := time.NewTicker(cnpPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.cnpServed() {
			inf := c.start(ctx, dyn, p.opts.Resync, h)
			p.opts.Log.Info("ClusterNetworkPolicy is served: enforcing it")
			cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
			runner.Run()
			return
		}
	}
}
