// Package proxy is weft's service proxy: it replaces kube-proxy with one nftables table,
// inet weft-proxy, built from Services, EndpointSlices and ServiceCIDRs. Packets to a service
// address and port are DNATed to one of its endpoints; new connections to a service without
// endpoints, or to a port a service does not have, are refused; addresses inside a ServiceCIDR
// that no service holds are dropped. A sync sends the kernel only what changed since the last.
//
// The package holds the Service model (model.go); the rules made of it, each with a comment
// saying what it is for, which weft trace reads (rules.go, chains.go, contrib.go, dispatch.go,
// purpose.go); and the table they are diffed in (model_table.go, on internal/nft). Informers
// mark what changed (watch.go) and one worker syncs it (sync.go). After each sync the proxy
// hands what else the node must do to packages that know nothing of it: internal/loadbalancer
// (LoadBalancer addresses), internal/healthcheck (health check node ports, kube-proxy's health
// and status ports) and internal/conntrack (TCP timeouts, stale UDP flows).
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/weftnet/weft/internal/conntrack"
	"github.com/weftnet/weft/internal/healthcheck"
	"github.com/weftnet/weft/internal/loadbalancer"
	"github.com/weftnet/weft/internal/nft"
	"github.com/weftnet/weft/internal/syncrunner"
)

// RBACRules are what the proxy reads, and what its LoadBalancer controller writes; the
// agent's ClusterRole must include them.
var RBACRules = slices.Concat([]rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services", "nodes"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"servicecidrs"}, Verbs: []string{"get", "list", "watch"}},
}, loadbalancer.RBACRules)

// Options configure the proxy.
type Options struct {
	NodeName string
	// ClusterCIDRs are the pod ranges: traffic to a ClusterIP from anywhere else is masqueraded.
	ClusterCIDRs []netip.Prefix
	// LBPools are the addresses LoadBalancer Services get (the role of K3s's ServiceLB, with
	// real addresses): one node answers ARP/NDP for each.
	LBPools []netip.Prefix
	// Resync rewrites the whole table even when nothing changed, repairing what was deleted
	// by hand; between them, syncs send only what changed.
	Resync time.Duration
	// MinSyncInterval spaces syncs in a burst of changes (0: 100 ms). The first change after a
	// quiet spell is synced at once.
	MinSyncInterval time.Duration
	Log             *slog.Logger
	// Metrics registers the proxy's figures (nil: none).
	Metrics prometheus.Registerer
	// Conntrack are the TCP conntrack timeouts set on the node when the proxy starts.
	Conntrack conntrack.Timeouts
	// HealthAddress and StatusAddress serve kube-proxy's /healthz and /proxyMode (empty: off);
	// healthcheck.ProxyHealthAddress and ProxyStatusAddress are kube-proxy's.
	HealthAddress, StatusAddress string
}

// Proxy keeps table inet weft-proxy in line with the cluster's services.
type Proxy struct {
	opts    Options
	client  kubernetes.Interface
	ct      conntrack.Kernel // nil: stale UDP flows are left to time out
	lb      *loadbalancer.Controller
	health  *healthcheck.Servers
	self    healthcheck.Proxy
	metrics *metrics

	// What the informers have seen change since the last sync.
	mu    sync.Mutex
	dirty changes

	// The sync worker's own state.
	table *table
	// where is this node, for topology hints.
	where    topology
	services map[string]*serviceState
	// localPolicy are the Services with an externalTrafficPolicy Local port, loadBalancers
	// those of type LoadBalancer: the few a sync looks at without walking them all.
	localPolicy, loadBalancers map[string]bool
	// staleUDP waits for the transaction that moves its flows' service to new endpoints.
	staleUDP []conntrack.Stale
}

// serviceState is what the proxy keeps of one Service between syncs.
type serviceState struct {
	ports        []*servicePort
	loadBalancer bool
	// trigger is the newest endpoints.kubernetes.io/last-change-trigger-time already measured.
	trigger time.Time
}

// changes are the marks informers leave for the sync worker.
type changes struct {
	services           map[string]bool
	cidrs, nodes, full bool
}

// Kernel is what the proxy needs of netlink besides nftables; *netlink.Handle has it.
type Kernel interface {
	loadbalancer.Addresses
	conntrack.Kernel
}

// New writes the proxy's table through nft (nft.New(nft.InetFamily, Table, "") for the node's
// own), and uses the node's kernel for LoadBalancer addresses and stale UDP flows (nil:
// neither).
func New(opts Options, client kubernetes.Interface, nftables nft.Kernel, k Kernel) *Proxy {
	if opts.MinSyncInterval <= 0 {
		opts.MinSyncInterval = 100 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{opts: opts, client: client, health: healthcheck.NewServers(),
		metrics: newMetrics(opts.Metrics), table: newTable(nftables), services: map[string]*serviceState{}, localPolicy: map[string]bool{}, loadBalancers: map[string]bool{},
		dirty: changes{services: map[string]bool{}, full: true, nodes: true}, where: topology{node: opts.NodeName}}
	var addrs loadbalancer.Addresses
	if k != nil {
		p.ct, addrs = k, k
	}
	p.lb = loadbalancer.New(loadbalancer.Options{NodeName: opts.NodeName, Pools: opts.LBPools, Log: opts.Log}, client, addrs)
	return p
}

// byService indexes EndpointSlices by the Service they belong to.
const byService = "service"

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	// A slice labelled headless is for DNS only: kube-proxy never reads it, nor does weft.
	if _, headless := s.Labels[HeadlessLabel]; headless {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

// Run syncs until ctx ends. Informers only mark what changed; one worker syncs, at once after
// a quiet spell and then at most once per MinSyncInterval, retrying a failure with back-off (as
// a full sync when the table itself could not be written). Stopping leaves the table in
// place: connections and service addresses keep working.
func (p *Proxy) Run(ctx context.Context) error {
	return p.RunWith(ctx, informers.NewSharedInformerFactory(p.client, 0))
}

// RunWith is Run with informers from factory, shared with the rest of the agent; it starts
// what it adds (factory.Start may be called again).
func (p *Proxy) RunWith(ctx context.Context, factory informers.SharedInformerFactory) error {
	p.self.Serve(ctx, p.opts.HealthAddress, p.opts.StatusAddress, func(err error) {
		p.opts.Log.Error("proxy health and status", "err", err)
	})
	if err := p.opts.Conntrack.Apply(); err != nil {
		// Services work without them; only long idle connections may lose their translation.
		p.opts.Log.Error("conntrack timeouts", "err", err)
	}
	inf := informersOf(factory)
	if err := inf.slices.Informer().AddIndexers(cache.Indexers{byService: sliceService}); err != nil {
		return err
	}
	runner := syncrunner.New(p.syncOnce(inf), syncrunner.Options{MinInterval: p.opts.MinSyncInterval, MaxInterval: p.opts.Resync,
		RetryMin: 100 * time.Millisecond, RetryMax: 30 * time.Second})
	kick := runner.Run
	if err := p.watch(inf, kick); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.synced()...) {
		return ctx.Err()
	}
	kick()
	// Gaining the status Lease marks the LoadBalancer owners, so statuses are written at once.
	go p.lb.RunLease(ctx, func() {
		p.mark(func(c *changes) { c.nodes = true })
		kick()
	})
	defer p.health.Close()
	_ = runner.Loop(ctx) // ends only with ctx; the table stays in place
	return nil
}

// syncOnce is the runner's sync: one sync, a full one every Resync (which repairs what someone
// else deleted), and after a failure to write the table a full one too.
func (p *Proxy) syncOnce(inf proxyInformers) func(context.Context) error {
	lastFull := time.Now()
	return func(ctx context.Context) error {
		full := p.opts.Resync > 0 && time.Since(lastFull) >= p.opts.Resync
		if full {
			p.mark(func(c *changes) { c.full = true })
		}
		err := p.sync(ctx, inf)
		if err != nil && ctx.Err() == nil {
			p.metrics.syncFailures.Inc()
			if errors.As(err, new(tableError)) {
				p.opts.Log.Error("service proxy sync failed; retrying with a full sync", "err", err)
				p.mark(func(c *changes) { c.full = true })
			} else {
				p.opts.Log.Error("service proxy sync failed after the table was written; retrying that part", "err", err)
			}
			return err
		}
		if full {
			lastFull = time.Now()
		}
		p.self.Synced(time.Now())
		return nil
	}
}

func (p *Proxy) mark(f func(*changes)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.dirty)
}

// takeChanges hands the worker what changed and starts a new record.
func (p *Proxy) takeChanges() changes {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.dirty
	p.dirty = changes{services: map[string]bool{}}
	return c
}

// Cleanup removes the table and the LoadBalancer addresses this node announced, for when the
// proxy is turned off.
func (p *Proxy) Cleanup(ctx context.Context) error {
	var errs []error
	if err := p.table.nft.Delete(ctx); err != nil {
		errs = append(errs, fmt.Errorf("delete table inet %s: %w", Table, err))
	}
	return errors.Join(append(errs, p.lb.Cleanup())...)
}
