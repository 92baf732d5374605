// Package agent is weft's per-node agent. It prepares the node for pods (once the Node has
// podCIDRs it writes the CNI configuration and enables forwarding), connects them to other
// nodes' pods with the chosen backend, and masquerades what leaves the cluster. The service
// proxy and the rest join it as features of the same shape.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/weftnet/weft/internal/cidr"
	clusterdns "github.com/weftnet/weft/internal/dns"
	"github.com/weftnet/weft/internal/egress"
	"github.com/weftnet/weft/internal/egressroute"
	"github.com/weftnet/weft/internal/healthcheck"
	"github.com/weftnet/weft/internal/nft"
	"github.com/weftnet/weft/internal/overlay"
	"github.com/weftnet/weft/internal/policy"
	"github.com/weftnet/weft/internal/proxy"
	"github.com/weftnet/weft/internal/syncrunner"
	"github.com/weftnet/weft/internal/wireguard"
)

// Agent watches the Nodes: its own for the CNI configuration and what it publishes, all of
// them for routes to their pods.
type Agent struct {
	opts        Options
	client      kubernetes.Interface
	log         *slog.Logger
	overlay     *overlay.Overlay
	wg          *wireguard.Device // the wireguard backend's device; nil under the others
	externalIPs []netip.Addr
	masq        *egress.Masquerade // nil without --cluster-cidr
	routes      *egressroute.Controller
	proxy       *proxy.Proxy
	dns         *clusterdns.Server
	policy      *policy.Policy
	dyn         dynamic.Interface // weft's own resources and ClusterNetworkPolicies
	metrics     *prometheus.Registry
	status      statusBoard
}

// New makes an agent; Run starts it. dyn reads weft's own resources (EgressRoutes) and
// ClusterNetworkPolicies.
func New(opts Options, client kubernetes.Interface, dyn dynamic.Interface, log *slog.Logger) (*Agent, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	a := &Agent{opts: opts, client: client, log: log, externalIPs: opts.NodeExternalIPs, metrics: prometheus.NewRegistry(), dyn: dyn}
	var wg overlay.WireGuard
	if opts.Backend == overlay.BackendWireGuard {
		if a.wg, err = wireguard.New(overlay.WireGuardDevice, opts.StateDir, opts.WireGuardPort, log.With("feature", "wireguard")); err != nil {
			return nil, err
		}
		wg = a.wg
	}
	a.overlay = overlay.New(opts.Backend, overlay.Netlink{Handle: h}, wg)
	if len(opts.ClusterCIDRs) > 0 {
		egressTable, err := nft.New(nft.InetFamily, egress.Table, "")
		if err != nil {
			return nil, fmt.Errorf("%w (install the nftables package)", err)
		}
		keep := slices.Concat(opts.ClusterCIDRs, opts.ServiceCIDRs, opts.NoMasqueradeCIDRs)
		a.masq = egress.NewMasquerade(egressTable, opts.ClusterCIDRs, keep, opts.IPv6Masquerade)
	}
	proxyTable, err := nft.New(nft.InetFamily, proxy.Table, "")
	if err != nil {
		return nil, fmt.Errorf("%w (install the nftables package)", err)
	}
	a.proxy = proxy.New(proxy.Options{NodeName: opts.NodeName, ClusterCIDRs: opts.ClusterCIDRs, LBPools: opts.LBPools, Resync: opts.Resync,
		Log: log.With("feature", "proxy"), Metrics: a.metrics, Conntrack: opts.Conntrack,
		HealthAddress: healthcheck.ProxyHealthAddress, StatusAddress: healthcheck.ProxyStatusAddress}, client, proxyTable, h)
	dnsTable, err := nft.New(nft.InetFamily, clusterdns.Table, "")
	if err != nil {
		return nil, fmt.Errorf("%w (install the nftables package)", err)
	}
	a.dns = clusterdns.New(opts.DNS, dnsTable, clusterdns.Loopback{Handle: h}, log.With("feature", "dns"), a.metrics)
	policyTable, err := nft.New(nft.InetFamily, policy.Table, "")
	if err != nil {
		return nil, fmt.Errorf("%w (install the nftables package)", err)
	}
	a.policy = policy.New(policy.Options{NodeName: opts.NodeName, Resync: opts.Resync, Log: log.With("feature", "policy"), Metrics: a.metrics}, client, policyTable)
	kernel, err := egressroute.NewKernel()
	if err != nil {
		return nil, err
	}
	a.routes, err = egressroute.New(egressroute.Options{NodeName: opts.NodeName, ClusterCIDRs: opts.ClusterCIDRs, ServiceCIDRs: opts.ServiceCIDRs,
		Resync: opts.Resync, Log: log.With("feature", "egressroute")}, client, dyn, kernel)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Run keeps the node's configuration in line with the Nodes until ctx ends. Informers only mark
// the node dirty; one worker syncs, retrying with back-off on failure; the informer's periodic
// resync repairs what someone changed by hand. Nothing is flushed on start or exit: a restarted
// agent finds its devices and routes in place, and established connections never notice.
func (a *Agent) Run(ctx context.Context) error {
	go a.serveMetrics(ctx, a.metrics)
	// One informer factory for the node loop and the proxy (they share the Nodes) and the
	// ServiceCIDRs, which all three features follow; the EgressRoute controller watches this
	// node's pods only and keeps its own factories for the rest.
	factory := informers.NewSharedInformerFactoryWithOptions(a.client, a.opts.Resync, informers.WithTransform(StripManagedFields))
	routesDone := a.runFeature(ctx, "EgressRoutes", func(ctx context.Context) error { return a.routes.RunWith(ctx, factory) })
	proxyDone := a.runFeature(ctx, "the service proxy", func(ctx context.Context) error {
		if a.opts.Proxy != "weft" {
			return a.proxy.Cleanup(ctx)
		}
		return a.proxy.RunWith(ctx, factory)
	})
	dnsDone := a.runFeature(ctx, "the cluster DNS", func(ctx context.Context) error {
		if a.opts.DNS.Mode != "weft" {
			return a.dns.Cleanup(ctx)
		}
		return a.dns.RunWith(ctx, factory, a.opts.Resync)
	})
	policyDone := a.runFeature(ctx, "NetworkPolicy", func(ctx context.Context) error {
		if a.opts.Policy != "weft" {
			return a.policy.Cleanup(ctx)
		}
		return a.policy.RunWith(ctx, factory, a.dyn)
	})
	err := a.runNodes(ctx, factory)
	return errors.Join(err, <-routesDone, <-proxyDone, <-dnsDone, <-policyDone)
}

// runFeature runs one feature until ctx ends. The node's network must not go down with one
// feature: if it stops early, that is logged and the rest goes on.
func (a *Agent) runFeature(ctx context.Context, name string, run func(context.Context) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := run(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Error(name+" stopped; the rest of the agent goes on", "err", err)
			a.status.featureStopped(name, err)
		}
		done <- err
	}()
	return done
}

// runNodes is the node feature's loop: overlay, masquerade and CNI configuration. A
// ServiceCIDR's change reaches it too: the masquerade exempts every service range.
func (a *Agent) runNodes(ctx context.Context, factory informers.SharedInformerFactory) error {
	nodes, serviceCIDRs := factory.Core().V1().Nodes(), factory.Networking().V1().ServiceCIDRs()
	// Retries back off from 5ms to 1000s (the runner's default, client-go's for controllers);
	// the informers' own resync asks for a sync every --resync, so no periodic run is added.
	runner := syncrunner.New(func(ctx context.Context) error {
		err := a.sync(ctx, nodes.Lister(), serviceCIDRs.Lister())
		if err != nil {
			a.log.Error("node sync failed; retrying", "err", err)
		}
		return err
	}, syncrunner.Options{})
	mark := func(any) { runner.Run() }
	for _, inf := range []cache.SharedIndexInformer{nodes.Informer(), serviceCIDRs.Informer()} {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: mark, UpdateFunc: func(_, o any) { mark(o) }, DeleteFunc: mark,
		})
	}
	factory.Start(ctx.Done())
	// Only the Nodes are waited for: pods' network must not wait on the ServiceCIDRs (a
	// cluster may not serve them), and their listing marks the node again when it comes.
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
		return ctx.Err()
	}
	runner.Run()
	if a.wg != nil {
		go a.watchWireGuardKey(ctx, runner.Run)
	}
	_ = runner.Loop(ctx) // ends only with ctx, which is no failure of the feature
	return nil
}

// sync publishes this node's overlay data, routes to every other node's pods, masquerades
// what leaves the cluster, and writes the CNI configuration, once the Node has podCIDRs.
func (a *Agent) sync(ctx context.Context, lister listersv1.NodeLister, serviceCIDRs networkinglisters.ServiceCIDRLister) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	unreachable, err := a.syncNode(ctx, lister, serviceCIDRs)
	if perr := a.publishStatus(ctx, err, unreachable); perr != nil {
		a.log.Warn("agent status not published", "err", perr)
	}
	return err
}

// syncNode is one node sync; it also returns the peers the overlay cannot reach.
func (a *Agent) syncNode(ctx context.Context, lister listersv1.NodeLister, serviceCIDRs networkinglisters.ServiceCIDRLister) ([]string, error) {
	self, err := lister.Get(a.opts.NodeName)
	if err != nil {
		return nil, fmt.Errorf("own Node %s: %w", a.opts.NodeName, err)
	}
	if len(self.Spec.PodCIDRs) == 0 {
		a.log.Info("waiting for the Node's podCIDRs")
		return []string{waitingForPodCIDRs}, nil
	}
	all, err := lister.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	local := overlay.LocalFrom(self, a.externalIPs, a.opts.UseExternalIP)
	local.MTU = a.opts.MTU
	local.ClusterCIDRs = a.opts.ClusterCIDRs
	var errs []error
	peers, problems := overlay.PeersFrom(a.opts.NodeName, all)
	for _, p := range problems {
		a.log.Warn("ignoring part of a Node", "problem", p)
	}
	res, err := a.overlay.Sync(local, peers)
	if err != nil {
		errs = append(errs, err)
	}
	// Published after the sync: the WireGuard device's mode is known only once it exists.
	if a.wg != nil {
		local.WireGuard = overlay.LocalWireGuard{PublicKey: a.wg.PublicKey(), Port: a.wg.Port(), Mode: string(a.wg.Mode())}
	}
	if err := a.publish(ctx, self, overlay.Annotations(local, a.opts.Backend)); err != nil {
		errs = append(errs, err)
	}
	for _, u := range res.Unreachable {
		a.log.Error("peer unreachable", "backend", a.opts.Backend, "problem", u)
	}
	if err := a.reportOverlay(ctx, self, res); err != nil {
		errs = append(errs, err)
	}
	if a.masq != nil {
		objs, err := serviceCIDRs.List(labels.Everything())
		if err == nil {
			err = a.masq.Sync(ctx, cidr.OfServiceCIDRs(objs))
		}
		errs = append(errs, err)
	}
	mtu := res.MTU
	if mtu == 0 {
		mtu = 1500 // the node's address is on no interface: the error above says so
	}
	errs = append(errs, a.syncCNI(self.Spec.PodCIDRs, mtu))
	return res.Unreachable, errors.Join(errs...)
}

// Cleanup removes what the agent made in the kernel: overlay devices and routes, the egress
// tables, rules and routes, the DNS addresses and table. The CNI configuration stays, so existing pods can still be torn down.
func (a *Agent) Cleanup(ctx context.Context) error {
	errs := []error{a.overlay.Cleanup(), a.routes.Cleanup(ctx), a.proxy.Cleanup(ctx), a.dns.Cleanup(ctx), a.policy.Cleanup(ctx)}
	if a.masq != nil {
		errs = append(errs, a.masq.Cleanup(ctx))
	}
	return errors.Join(errs...)
}
