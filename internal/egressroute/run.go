package egressroute

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/syncrunner"
)

// listers are the informers' caches one sync reads.
type listers struct {
	pods         listersv1.PodLister
	namespaces   listersv1.NamespaceLister
	nodes        listersv1.NodeLister
	routes       cache.GenericLister
	serviceCIDRs networkinglisters.ServiceCIDRLister
}

// Run keeps the node in line with the EgressRoutes until ctx ends, with informers of its own.
func (c *Controller) Run(ctx context.Context) error {
	return c.RunWith(ctx, informers.NewSharedInformerFactory(c.client, 0))
}

// RunWith is Run with the ServiceCIDRs from shared, the agent's factory, which the service
// proxy watches too; it starts what it adds (shared.Start may be called again). The pods,
// namespaces and nodes stay in factories of its own: it narrows the pods to this node's and
// strips every object to the few fields a sync reads, which the agent's other readers need.
// Informers only mark the state dirty; one worker syncs it whole, no more often than
// MinSyncInterval, retrying with back-off on failure, and at least every Resync. Stopping
// leaves the data plane as it is.
func (c *Controller) RunWith(ctx context.Context, shared informers.SharedInformerFactory) error {
	// Only this node's pods: every node watching every pod would not scale.
	local := informers.NewSharedInformerFactoryWithOptions(c.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", c.opts.NodeName).String()
	}))
	cluster := informers.NewSharedInformerFactory(c.client, 0)
	dyn := dynamicinformer.NewDynamicSharedInformerFactory(c.dyn, 0)
	pods, namespaces, nodes := local.Core().V1().Pods(), cluster.Core().V1().Namespaces(), cluster.Core().V1().Nodes()
	routes := dyn.ForResource(GVR)
	serviceCIDRs := shared.Networking().V1().ServiceCIDRs()

	var l listers // set once the caches are synced, before the first sync can run
	// Retries back off from 5ms to 1000s (the runner's default); a quiet cluster is synced
	// whole every Resync, which repairs what someone else changed in the kernel.
	runner := syncrunner.New(func(ctx context.Context) error {
		err := c.syncFrom(ctx, l)
		if err != nil {
			c.log.Error("sync failed; retrying", "err", err)
		}
		return err
	}, syncrunner.Options{MinInterval: c.opts.MinSyncInterval, MaxInterval: c.opts.Resync})
	dirty := func(any) { runner.Run() }
	handler := cache.ResourceEventHandlerFuncs{AddFunc: dirty, UpdateFunc: func(_, o any) { dirty(o) }, DeleteFunc: dirty}
	all := []cache.SharedIndexInformer{pods.Informer(), namespaces.Informer(), nodes.Informer(), routes.Informer()}
	for _, inf := range all {
		if err := inf.SetTransform(strip); err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	// Shared: no transform of ours on it.
	if _, err := serviceCIDRs.Informer().AddEventHandler(handler); err != nil {
		return err
	}
	all = append(all, serviceCIDRs.Informer())
	local.Start(ctx.Done())
	cluster.Start(ctx.Done())
	dyn.Start(ctx.Done())
	shared.Start(ctx.Done())
	go func() {
		select {
		case <-time.After(30 * time.Second):
			if !routes.Informer().HasSynced() {
				c.log.Warn("EgressRoutes not listed yet; is deploy/egressroute-crd.yaml installed?")
			}
		case <-ctx.Done():
		}
	}()
	synced := make([]cache.InformerSynced, len(all))
	for i, inf := range all {
		synced[i] = inf.HasSynced
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	l = listers{pods: pods.Lister(), namespaces: namespaces.Lister(), nodes: nodes.Lister(), routes: routes.Lister(), serviceCIDRs: serviceCIDRs.Lister()}
	runner.Run()
	_ = runner.Loop(ctx) // ends only with ctx
	return nil
}

// syncFrom takes a snapshot of the caches and syncs it.
func (c *Controller) syncFrom(ctx context.Context, l listers) error {
	var snap snapshot
	objs, err := l.routes.List(labels.Everything())
	if err != nil {
		return err
	}
	us := make([]*unstructured.Unstructured, 0, len(objs))
	snap.objects = map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if u, ok := o.(*unstructured.Unstructured); ok {
			us = append(us, u)
			snap.objects[u.GetName()] = u
		}
	}
	snap.routes, snap.broken = parseAll(us)
	if snap.pods, err = l.pods.List(labels.Everything()); err != nil {
		return err
	}
	nss, err := l.namespaces.List(labels.Everything())
	if err != nil {
		return err
	}
	snap.namespaces = map[string]labels.Set{}
	for _, ns := range nss {
		snap.namespaces[ns.Name] = ns.Labels
	}
	serviceCIDRs, err := l.serviceCIDRs.List(labels.Everything())
	if err != nil {
		return err
	}
	snap.serviceCIDRs = cidr.OfServiceCIDRs(serviceCIDRs)
	nodes, err := l.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	for _, n := range nodes {
		snap.nodes = append(snap.nodes, n.Name)
		if n.Name == c.opts.NodeName {
			for _, s := range n.Spec.PodCIDRs {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return fmt.Errorf("node %s: podCIDR %q: %w", n.Name, s, err)
				}
				snap.podCIDRs = append(snap.podCIDRs, p)
			}
		}
	}
	return c.sync(ctx, snap)
}

// strip keeps only the fields a sync reads, so the caches stay small on big clusters.
func strip(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, UID: o.UID, ResourceVersion: o.ResourceVersion, Labels: o.Labels},
			Spec:       corev1.PodSpec{NodeName: o.Spec.NodeName, HostNetwork: o.Spec.HostNetwork},
			Status:     corev1.PodStatus{Phase: o.Status.Phase, PodIPs: o.Status.PodIPs},
		}, nil
	case *corev1.Namespace:
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion, Labels: o.Labels}}, nil
	case *corev1.Node:
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion},
			Spec:       corev1.NodeSpec{PodCIDRs: o.Spec.PodCIDRs},
		}, nil
	case *unstructured.Unstructured:
		o.SetManagedFields(nil)
		return o, nil
	}
	return obj, nil
}
