// Package proxy is weft's service proxy: it replaces kube-proxy with one nftables table,
// inet weft-proxy, built from Services, EndpointSlices and ServiceCIDRs. Packets to a service
// address and port are DNATed to one of its endpoints; new connections to a service without
// endpoints, or to a port a service does not have, are refused; addresses inside a ServiceCIDR
// that no service holds are dropped. A sync sends the kernel only what changed since the last.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/weftnet/weft/internal/nft"
	"github.com/weftnet/weft/internal/syncrunner"
)

// RBACRules are what the proxy reads; the agent's ClusterRole must include them.
var RBACRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services", "nodes"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"servicecidrs"}, Verbs: []string{"get", "list", "watch"}},
	// The Lease whose holder writes LoadBalancer statuses (lblease.go).
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
}

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
	Conntrack ConntrackTimeouts
	// HealthAddress and StatusAddress serve kube-proxy's /healthz and /proxyMode (empty: off);
	// ProxyHealthAddress and ProxyStatusAddress are kube-proxy's.
	HealthAddress, StatusAddress string
}

// Proxy keeps table inet weft-proxy in line with the cluster's services.
type Proxy struct {
	opts   Options
	client kubernetes.Interface
	addrs  Addresses
	ct     Conntrack
	// tell makes the link's neighbours learn a newly announced address (nil: not at all).
	tell   func(ifindex int, mac net.HardwareAddr, ip netip.Addr) error
	health *healthChecks
	// lease says whether this agent writes LoadBalancer statuses.
	lease   statusLease
	self    proxyHealth
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
	reported                   map[string]string // the last pool problem evented per Service
	// staleUDP waits for the transaction that moves its flows' service to new endpoints.
	staleUDP []staleFlow
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
	Addresses
	Conntrack
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
	p := &Proxy{opts: opts, client: client, reported: map[string]string{}, health: newHealthChecks(),
		metrics: newMetrics(opts.Metrics), table: newTable(nftables), services: map[string]*serviceState{}, localPolicy: map[string]bool{}, loadBalancers: map[string]bool{},
		dirty: changes{services: map[string]bool{}, full: true, nodes: true}, where: topology{node: opts.NodeName}}
	if k != nil {
		p.addrs, p.ct, p.tell = k, k, tellNeighbours
	}
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
	for _, srv := range []struct {
		addr string
		h    http.Handler
	}{{p.opts.HealthAddress, p.self.handler()}, {p.opts.StatusAddress, statusHandler()}} {
		if srv.addr == "" {
			continue
		}
		go func() {
			if err := serveUntil(ctx, srv.addr, srv.h); err != nil {
				p.opts.Log.Error("proxy health and status", "err", err)
			}
		}()
	}
	if err := p.opts.Conntrack.apply(); err != nil {
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
	if len(p.opts.LBPools) > 0 {
		go p.lease.run(ctx, p.client, p.opts.NodeName, p.opts.Log, func() {
			p.mark(func(c *changes) { c.nodes = true })
			kick()
		})
	}
	defer p.health.close()
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
		p.self.synced(time.Now())
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
	return errors.Join(append(errs, p.withdrawAll())...)
}
