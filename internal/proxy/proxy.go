package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/knftables"
)

// RBACRules are what the proxy reads; the agent's ClusterRole must include them.
var RBACRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services", "nodes"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"servicecidrs"}, Verbs: []string{"get", "list", "watch"}},
}

// Options configure the proxy.
type Options struct {
	NodeName string
	// ClusterCIDRs are the pod ranges: traffic to a ClusterIP from anywhere else is masqueraded.
	ClusterCIDRs []netip.Prefix
	// LBPools are the addresses LoadBalancer Services get (the role of K3s's ServiceLB, with
	// real addresses): one node answers ARP/NDP for each.
	LBPools []netip.Prefix
	// Resync rewrites the table even when nothing changed, repairing what was deleted by hand.
	Resync time.Duration
	Log    *slog.Logger
	// Metrics registers the proxy's figures (nil: none).
	Metrics prometheus.Registerer
}

// Proxy keeps table inet weft-proxy in line with the cluster's services.
type Proxy struct {
	opts     Options
	client   kubernetes.Interface
	nft      knftables.Interface
	addrs    Addresses
	ct       Conntrack
	reported map[string]string // the last pool problem evented per Service
	lastUDP  map[udpFlow][]endpoint
	health   *healthChecks
	metrics  *metrics
}

// Kernel is what the proxy needs of netlink besides nftables; *netlink.Handle has it.
type Kernel interface {
	Addresses
	Conntrack
}

// New uses nft, an interface to the proxy's table (knftables.New(knftables.InetFamily, Table)),
// and the node's kernel for LoadBalancer addresses and stale UDP flows (nil: neither).
func New(opts Options, client kubernetes.Interface, nft knftables.Interface, k Kernel) *Proxy {
	p := &Proxy{opts: opts, client: client, nft: nft, reported: map[string]string{}, health: newHealthChecks(),
		metrics: newMetrics(opts.Metrics)}
	if k != nil {
		p.addrs, p.ct = k, k
	}
	return p
}

// Run syncs until ctx ends. Informers only mark the state dirty; one worker rewrites the
// table, at most once per 100 ms in a burst of changes, retrying with back-off after a failure.
// Stopping leaves the table in place: connections and service addresses keep working.
func (p *Proxy) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(p.client, p.opts.Resync)
	services := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices()
	cidrs := factory.Networking().V1().ServiceCIDRs()
	nodes := factory.Core().V1().Nodes()
	limiter := workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 30*time.Second),
	)
	queue := workqueue.NewTypedRateLimitingQueue(limiter)
	defer queue.ShutDown()
	dirty := func(any) { queue.AddAfter("sync", 100*time.Millisecond) }
	handler := cache.ResourceEventHandlerFuncs{AddFunc: dirty, UpdateFunc: func(_, o any) { dirty(o) }, DeleteFunc: dirty}
	for _, inf := range []cache.SharedIndexInformer{services.Informer(), slices.Informer(), cidrs.Informer(), nodes.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), services.Informer().HasSynced, slices.Informer().HasSynced, cidrs.Informer().HasSynced, nodes.Informer().HasSynced) {
		return ctx.Err()
	}
	queue.Add("sync")
	go func() {
		<-ctx.Done()
		queue.ShutDown()
		p.health.close()
	}()
	for {
		key, quit := queue.Get()
		if quit {
			return nil
		}
		if err := p.sync(ctx, services.Lister(), slices.Lister(), cidrs.Lister(), nodes.Lister()); err != nil {
			p.opts.Log.Error("service proxy sync failed; retrying", "err", err)
			p.metrics.syncFailures.Inc()
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

type (
	servicesLister = listersv1.ServiceLister
	slicesLister   = discoverylisters.EndpointSliceLister
	cidrsLister    = networkinglisters.ServiceCIDRLister
	nodesLister    = listersv1.NodeLister
)

func (p *Proxy) sync(ctx context.Context, services servicesLister, slices slicesLister, cidrs cidrsLister, nodes nodesLister) error {
	start := time.Now()
	st, err := p.desired(services, slices, cidrs)
	if err != nil {
		return err
	}
	tx := p.nft.NewTransaction()
	writeRules(tx, st)
	if err := p.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("nftables table inet %s: %w", Table, err)
	}
	udp := udpTargets(st.ports)
	if p.ct != nil && p.lastUDP != nil {
		if err := clearStale(p.ct, staleUDP(p.lastUDP, udp)); err != nil {
			return err
		}
	}
	p.lastUDP = udp
	if err := p.health.update(st.ports); err != nil {
		return err
	}
	allNodes, err := nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	if err := p.syncLoadBalancers(ctx, st.services, allNodes, st.endpointNodes); err != nil {
		return err
	}
	took := time.Since(start)
	p.metrics.syncDuration.Observe(took.Seconds())
	p.metrics.lastSync.SetToCurrentTime()
	p.metrics.servicePorts.Set(float64(len(st.ports)))
	n := 0
	for _, sp := range st.ports {
		n += len(sp.endpoints)
	}
	p.metrics.endpoints.Set(float64(n))
	p.opts.Log.Debug("service proxy synced", "servicePorts", len(st.ports), "took", took)
	return nil
}

// desired reads the caches into what the table must say.
func (p *Proxy) desired(services servicesLister, endpointSlices slicesLister, cidrs cidrsLister) (state, error) {
	st := state{clusterCIDRs: p.opts.ClusterCIDRs}
	all, err := services.List(labels.Everything())
	if err != nil {
		return st, err
	}
	st.services = all
	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	eps, err := endpointSlices.List(labels.Everything())
	if err != nil {
		return st, err
	}
	for _, s := range eps {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			bySvc[s.Namespace+"/"+name] = append(bySvc[s.Namespace+"/"+name], s)
		}
	}
	st.endpointNodes = map[string][]string{}
	for _, svc := range all {
		k := svc.Namespace + "/" + svc.Name
		st.ports = append(st.ports, servicePorts(svc, bySvc[k], p.opts.NodeName)...)
		for _, s := range bySvc[k] {
			for _, e := range s.Endpoints {
				if e.NodeName != nil && (e.Conditions.Ready == nil || *e.Conditions.Ready) && !slices.Contains(st.endpointNodes[k], *e.NodeName) {
					st.endpointNodes[k] = append(st.endpointNodes[k], *e.NodeName)
				}
			}
		}
	}
	ranges, err := cidrs.List(labels.Everything())
	if err != nil {
		return st, err
	}
	for _, r := range ranges {
		for _, c := range r.Spec.CIDRs {
			if pfx, err := netip.ParsePrefix(c); err == nil {
				st.serviceCIDRs = append(st.serviceCIDRs, pfx.Masked())
			}
		}
	}
	return st, nil
}

// Cleanup removes the table, for when the proxy is turned off.
func (p *Proxy) Cleanup(ctx context.Context) error {
	tx := p.nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := p.nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return err
	}
	return nil
}
