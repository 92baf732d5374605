// Package policy enforces NetworkPolicy in the table inet weft-policy. Each agent enforces its
// own node's pods: ingress where a pod receives, egress where it sends. Every verdict is a set
// lookup keyed by the pod's address (see skeleton), and a change of policies, pods or
// namespace labels rewrites only the set elements it touches, in one transaction (internal/nft).
package policy

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/weftnet/weft/internal/nft"
	"github.com/weftnet/weft/internal/syncrunner"
)

// RBACRules are what policy reads; the agent's ClusterRole must include them.
var RBACRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"policy.networking.k8s.io"}, Resources: []string{"clusternetworkpolicies"}, Verbs: []string{"get", "list", "watch"}},
}

// Options configure policy on one node.
type Options struct {
	NodeName string
	Resync   time.Duration
	Log      *slog.Logger
	// Metrics registers the feature's metrics (nil: not exported).
	Metrics prometheus.Registerer
}

// Policy keeps one node's table in line with the cluster's NetworkPolicies.
type Policy struct {
	opts   Options
	client kubernetes.Interface

	metrics *metrics
	mu      sync.Mutex
	table   *nft.Table
	// needFull makes the next sync a full one: the first, after a failure, and every Resync
	// (which repairs what someone else changed in the table).
	needFull bool
	lastFull time.Time
	problems map[string]bool
}

// New makes the feature; k is where the table is written (nft.New(nft.InetFamily, Table, "")).
func New(opts Options, client kubernetes.Interface, k nft.Kernel) *Policy {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	t := nft.NewTable(k, "weft: NetworkPolicy")
	t.Set(skeletonOwner, skeleton())
	return &Policy{opts: opts, client: client, table: t, needFull: true,
		problems: map[string]bool{}, metrics: newMetrics(opts.Metrics)}
}

// RunWith enforces until ctx ends. NetworkPolicies, Namespaces and the Node come from the
// shared factory; Pods from a factory of policy's own, because the shared one's pod informer
// keeps only what DNS needs (no labels, no container ports).
func (p *Policy) RunWith(ctx context.Context, factory informers.SharedInformerFactory, dyn dynamic.Interface) error {
	pods := informers.NewSharedInformerFactoryWithOptions(p.client, p.opts.Resync, informers.WithTransform(stripPod))
	podInf := pods.Core().V1().Pods()
	nps, nss, nodes := factory.Networking().V1().NetworkPolicies(), factory.Core().V1().Namespaces(), factory.Core().V1().Nodes()
	infs := []cache.SharedIndexInformer{podInf.Informer(), nps.Informer(), nss.Informer(), nodes.Informer()}
	src := sources{pods: podInf.Lister().List, namespaces: nss.Lister().List, policies: nps.Lister().List, nodes: nodes.Lister().List}
	// ClusterNetworkPolicies once their CRD is served: NetworkPolicy must not wait on a list
	// that cannot succeed, and a CRD installed later (the lab installs it while the nodes
	// start) is picked up within cnpPoll.
	cnps := &cnpWatch{}
	src.cnps = cnps.list
	if dyn != nil && p.cnpServed() {
		infs = append(infs, cnps.start(ctx, dyn, p.opts.Resync, nil))
	}
	runner := syncrunner.New(func(ctx context.Context) error {
		_, err := p.sync(ctx, src)
		if err != nil {
			p.opts.Log.Error("policy sync failed; retrying", "err", err)
		}
		return err
	}, syncrunner.Options{MaxInterval: p.opts.Resync})
	mark := func(any) { runner.Run() }
	h := &cache.ResourceEventHandlerFuncs{AddFunc: mark, UpdateFunc: func(_, o any) { mark(o) }, DeleteFunc: mark}
	synced := make([]cache.InformerSynced, 0, len(infs))
	for _, inf := range infs {
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
		synced = append(synced, inf.HasSynced)
	}
	if dyn != nil && !cnps.started() {
		p.opts.Log.Info("ClusterNetworkPolicy is not served yet; checking again every " + cnpPoll.String())
		go p.waitForCNPs(ctx, cnps, dyn, h, runner)
	}
	factory.Start(ctx.Done())
	pods.Start(ctx.Done())
	defer pods.Shutdown()
	// Until every informer has listed, the table of a restarted agent stays as it was.
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	runner.Run()
	_ = runner.Loop(ctx)
	return nil
}

// sources list what one sync reads.
type sources struct {
	pods       func(labels.Selector) ([]*corev1.Pod, error)
	namespaces func(labels.Selector) ([]*corev1.Namespace, error)
	policies   func(labels.Selector) ([]*networkingv1.NetworkPolicy, error)
	nodes      func(labels.Selector) ([]*corev1.Node, error)
	cnps       func() ([]*cnp.ClusterNetworkPolicy, error)
}

// sync builds the whole desired table and sends what changed since the last sync (all of it
// after a failure, at start and every Resync); it returns what it sent (nil: nothing).
func (p *Policy) sync(ctx context.Context, src sources) (*nft.Tx, error) {
	start := time.Now()
	in, err := read(src, p.opts.NodeName)
	if err != nil {
		return nil, err
	}
	want, problems := compute(in.world, in.policies, in.cnps, p.opts.NodeName, in.podCIDRs)
	p.report(problems)
	p.mu.Lock()
	defer p.mu.Unlock()
	owners := byOwner(want, in.world.podsOn(p.opts.NodeName))
	owners[skeletonOwner] = p.table.Owner(skeletonOwner) // set once, in New
	p.table.SetAll(owners)
	full := p.needFull || (p.opts.Resync > 0 && time.Since(p.lastFull) >= p.opts.Resync)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tx, err := p.table.Sync(ctx, full)
	kind := map[bool]string{true: "full", false: "partial"}[full]
	if !full && tx == nil {
		kind = "unchanged"
	}
	if err != nil {
		p.needFull = true
		p.metrics.syncs.WithLabelValues(kind, "error").Inc()
		return nil, err
	}
	if full {
		p.needFull, p.lastFull = false, time.Now()
	}
	p.metrics.syncs.WithLabelValues(kind, "ok").Inc()
	p.metrics.duration.Observe(time.Since(start).Seconds())
	if !full && tx != nil {
		p.metrics.changed.Add(float64(tx.Len()))
	}
	for _, set := range setNames() {
		p.metrics.elements.WithLabelValues(set).Set(float64(len(want[set])))
	}
	p.metrics.problems.Set(float64(len(problems)))
	p.metrics.policies.WithLabelValues("NetworkPolicy").Set(float64(len(in.policies)))
	p.metrics.policies.WithLabelValues("ClusterNetworkPolicy").Set(float64(len(in.cnps)))
	if tx != nil {
		p.opts.Log.Info("policy synced", "full", full, "sent", tx.Len(), "policies", len(in.policies), "clusterPolicies", len(in.cnps), "took", time.Since(start))
	}
	return tx, nil
}

type input struct {
	world    *world
	policies []*networkingv1.NetworkPolicy
	cnps     []*cnp.ClusterNetworkPolicy
	podCIDRs []netip.Prefix
}

func read(src sources, nodeName string) (input, error) {
	var in input
	all, err := src.pods(labels.Everything())
	if err != nil {
		return in, fmt.Errorf("pods: %w", err)
	}
	in.world = &world{namespaces: map[string]map[string]string{}}
	for _, o := range all {
		if pd, ok := podOf(o); ok {
			in.world.pods = append(in.world.pods, pd)
		}
	}
	nss, err := src.namespaces(labels.Everything())
	if err != nil {
		return in, fmt.Errorf("namespaces: %w", err)
	}
	for _, ns := range nss {
		in.world.namespaces[ns.Name] = ns.Labels
	}
	if in.policies, err = src.policies(labels.Everything()); err != nil {
		return in, fmt.Errorf("networkpolicies: %w", err)
	}
	if in.cnps, err = src.cnps(); err != nil {
		return in, fmt.Errorf("clusternetworkpolicies: %w", err)
	}
	nodes, err := src.nodes(labels.Everything())
	if err != nil {
		return in, fmt.Errorf("nodes: %w", err)
	}
	for _, n := range nodes {
		in.world.nodes = append(in.world.nodes, nodeOf(n))
		if n.Name == nodeName {
			in.podCIDRs = parsePrefixes(n.Spec.PodCIDRs)
		}
	}
	return in, nil
}

// report logs each problem once, when it first appears.
func (p *Policy) report(problems []string) {
	seen := map[string]bool{}
	for _, pr := range problems {
		seen[pr] = true
		if !p.problems[pr] {
			p.opts.Log.Warn("part of a NetworkPolicy cannot be enforced as written; it matches nothing", "problem", pr)
		}
	}
	p.problems = seen
}

// Cleanup removes the table, for when policy is off (--policy none).
func (p *Policy) Cleanup(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.table.Delete(ctx)
}

func parsePrefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// stripPod keeps what policy reads of a Pod.
func stripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion, Labels: p.Labels},
		Spec:       corev1.PodSpec{HostNetwork: p.Spec.HostNetwork, NodeName: p.Spec.NodeName},
		Status:     corev1.PodStatus{Phase: p.Status.Phase, PodIPs: p.Status.PodIPs},
	}
	for _, c := range p.Spec.Containers {
		if len(c.Ports) > 0 {
			out.Spec.Containers = append(out.Spec.Containers, corev1.Container{Name: c.Name, Ports: c.Ports})
		}
	}
	return out, nil
}
