package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	corev1informers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/weftnet/weft/internal/nft"
)

// RBACRules are what the DNS server reads; the agent's ClusterRole must include them.
var RBACRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services", "pods"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
}

// Server is one node's cluster DNS.
type Server struct {
	opts    Options
	table   *nft.Table // inet weft-dns
	addrs   Addresses
	log     *slog.Logger
	handler *handler
	serve   *listeners
	// minSync spaces changes of the addresses served in a burst of changes to the kube-dns
	// Service; the first change after a quiet spell is applied at once.
	minSync time.Duration

	stubs map[string][]string // resolvers by zone, from --dns-stub-zone

	mu        sync.Mutex
	upstreams []string
	held      []netip.Addr // the addresses served now
}

// New makes the node's DNS server; Run starts it, Cleanup removes what a previous run left when
// the feature is off. k holds table inet weft-dns (nft.New(nft.InetFamily, Table, "") for the
// node's).
func New(opts Options, k nft.Kernel, addrs Addresses, log *slog.Logger, reg prometheus.Registerer) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := newMetrics(reg)
	stubs, _ := parseStubZones(opts.StubZones) // Validate has reported bad ones
	s := &Server{opts: opts, table: nft.NewTable(k, tableComment), addrs: addrs, log: log, minSync: 100 * time.Millisecond, stubs: stubs}
	s.handler = &handler{clusterOrigin: dns.CanonicalName(opts.Domain), metrics: m, synced: make(chan struct{})}
	s.handler.fwd = newForwarder(s.currentUpstreams, newCache(opts.CacheSize, opts.CacheMaxTTL), m)
	if opts.Log {
		s.handler.log = log.With("feature", "dns")
	}
	s.serve = newListeners(s.handler, 53)
	return s
}

type dnsInformers struct {
	services corev1informers.ServiceInformer
	slices   discoveryinformers.EndpointSliceInformer
	pods     corev1informers.PodInformer
}

// RunWith serves until ctx ends, with informers from the agent's shared factory. Each informer
// event files its object's records in the zone at once (follow.go); a worker puts the DNS
// addresses in place when the kube-dns Service's change, and repairs them and the table every
// resync. With the API server gone the informers keep their last objects, so the node keeps
// answering from them.
func (s *Server) RunWith(ctx context.Context, factory informers.SharedInformerFactory, resync time.Duration) error {
	inf := dnsInformers{services: factory.Core().V1().Services(), slices: factory.Discovery().V1().EndpointSlices(), pods: factory.Core().V1().Pods()}
	// Pods are the DNS feature's alone in the shared factory: keep only what a record needs.
	if err := inf.pods.Informer().SetTransform(stripPod); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	kick := make(chan struct{}, 1)
	z := newClusterZone(s.opts.Domain, uint32(s.opts.TTL/time.Second), 0)
	synced, err := s.follow(inf, z, func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	s.loadUpstreams()
	// A restarted agent takes the sockets from the bridge its predecessor left (handover.go);
	// failing that, it finds its addresses still on lo and in the table and listens at once.
	// Either way questions wait for the first sync rather than meet a closed port.
	// The bridge's sockets are read only once this agent has synced: until then the bridge
	// answers them, where a question read here would wait for the sync.
	bridge, files := takeOver(s.opts.Handover)
	defer closeAll(files)
	defer func() {
		if s.opts.Handover != "" {
			if err := s.handOver(); err != nil {
				s.log.Error("DNS handover failed: questions go unanswered until the next agent listens", "err", err)
				s.serve.close()
				return
			}
			s.serve.drain()
			return
		}
		s.serve.close()
	}()
	if prev, err := tableAddrs(ctx, s.table); err == nil && len(prev) > 0 && len(files) == 0 {
		if err := s.serve.set(prev); err != nil {
			s.log.Warn("cannot listen at the previous DNS addresses yet", "err", err)
		}
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	s.handler.cluster.Store(z)
	close(s.handler.synced)
	if len(files) > 0 {
		if err := s.serve.adopt(files); err != nil {
			s.log.Warn("some DNS sockets from the bridge are unusable", "err", err)
		}
		files = nil
		s.log.Info("took the DNS sockets over from the bridge")
	}
	release(bridge)
	if resync <= 0 {
		resync = time.Minute
	}
	repair := time.NewTicker(resync)
	defer repair.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	backoff := time.Second
	for {
		start := time.Now()
		if err := s.hold(ctx, s.wanted(inf)); err != nil {
			s.log.Error("DNS addresses failed; retrying", "err", err, "in", backoff)
			retry.Reset(backoff)
			backoff = min(2*backoff, 30*time.Second)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case <-repair.C:
			s.loadUpstreams()
		case <-retry.C:
		}
		if wait := s.minSync - time.Since(start); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	}
}

// RunBridge takes the sockets of the exiting agent listening at the abstract unix socket
// from, answers on them from its own informers, and hands them on to the next agent
// (handover.go); it returns once that agent has synced.
func (s *Server) RunBridge(ctx context.Context, factory informers.SharedInformerFactory, from string) error {
	agent, files := takeOver(from)
	if len(files) == 0 {
		return errNoSockets
	}
	defer closeAll(files)
	inf := dnsInformers{services: factory.Core().V1().Services(), slices: factory.Discovery().V1().EndpointSlices(), pods: factory.Core().V1().Pods()}
	z := newClusterZone(s.opts.Domain, uint32(s.opts.TTL/time.Second), 0)
	synced, err := s.follow(inf, z, func() {})
	if err != nil {
		return err
	}
	// Listening before the exiting agent goes: the next agent may start right after it.
	ln, err := listenHandover(s.opts.Handover)
	if err != nil {
		return err
	}
	s.loadUpstreams()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		ln.Close()
		return ctx.Err()
	}
	s.handler.cluster.Store(z)
	close(s.handler.synced)
	// Reading only now: until the bridge is synced the exiting agent answers every question.
	if err := s.serve.adopt(files); err != nil {
		return err
	}
	files = nil
	offered, err := s.serve.files()
	if err != nil {
		return err
	}
	defer closeAll(offered)
	release(agent)
	s.log.Info("bridging the DNS sockets until the next agent has synced")
	life, cancel := context.WithTimeout(ctx, bridgeLife)
	defer cancel()
	err = offerSockets(life, ln, offered)
	s.serve.drain()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no agent took the DNS sockets over in %s", bridgeLife)
	}
	return err
}

// wanted are the DNS Service's cluster IPs and the --dns-address ones.
func (s *Server) wanted(inf dnsInformers) []netip.Addr {
	var out []netip.Addr
	for _, a := range s.opts.Addresses {
		if ip, err := netip.ParseAddr(strings.TrimSpace(a)); err == nil {
			out = append(out, ip)
		}
	}
	ns, name, _ := strings.Cut(s.opts.Service, "/")
	if svc, err := inf.services.Lister().Services(ns).Get(name); err == nil {
		for _, ipText := range svc.Spec.ClusterIPs {
			if ip, err := netip.ParseAddr(ipText); err == nil {
				out = append(out, ip)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// hold puts addrs on the node, in the table and in the listeners, and takes away the ones
// served before and not any more (including a previous run's).
func (s *Server) hold(ctx context.Context, addrs []netip.Addr) error {
	before, err := tableAddrs(ctx, s.table)
	if err != nil {
		return err
	}
	var gone []netip.Addr
	for _, a := range before {
		if !slices.Contains(addrs, a) {
			gone = append(gone, a)
		}
	}
	// The rules come first, so the first packet to a new address is already untracked.
	if err := writeTable(ctx, s.table, addrs); err != nil {
		return err
	}
	errs := []error{s.addrs.Ensure(addrs)}
	if len(gone) > 0 {
		errs = append(errs, s.addrs.Remove(gone))
	}
	errs = append(errs, s.serve.set(addrs))
	s.mu.Lock()
	changed := !slices.Equal(s.held, addrs)
	s.held = addrs
	s.mu.Unlock()
	if changed {
		s.log.Info("answering cluster DNS", "addresses", addrs, "domain", s.opts.Domain)
	}
	return errors.Join(errs...)
}

// loadUpstreams reads the node's resolvers (unless --dns-upstream names them): re-read on every
// repair, so an edited resolv.conf takes effect without a restart.
func (s *Server) loadUpstreams() {
	s.setUpstreams(s.readUpstreams())
}

func (s *Server) setUpstreams(ups []string) {
	s.mu.Lock()
	s.upstreams = ups
	s.mu.Unlock()
}

// readUpstreams are --dns-upstream's, or the nameservers of --dns-resolv-conf.
func (s *Server) readUpstreams() []string {
	var ups []string
	if len(s.opts.Upstreams) > 0 {
		for _, u := range s.opts.Upstreams {
			if a, err := upstreamAddr(u); err == nil {
				ups = append(ups, a)
			}
		}
	} else if cfg, err := dns.ClientConfigFromFile(s.opts.ResolvConf); err != nil {
		s.log.Warn("no upstream resolvers: names outside the cluster get SERVFAIL", "err", fmt.Errorf("--dns-resolv-conf %s: %w", s.opts.ResolvConf, err))
	} else {
		for _, n := range cfg.Servers {
			// JoinHostPort: "fd00::1" + ":53" would read as the address fd00::1:53.
			if a, err := upstreamAddr(net.JoinHostPort(n, cfg.Port)); err == nil {
				ups = append(ups, a)
			}
		}
	}
	return ups
}

// currentUpstreams are the resolvers for name: the longest stub zone holding it, or the node's,
// leaving out the addresses this node serves itself (a node whose resolv.conf names the
// cluster DNS would otherwise ask itself forever).
func (s *Server) currentUpstreams(name string) []string {
	best := ""
	for z := range s.stubs {
		if dns.IsSubDomain(z, name) && len(z) > len(best) {
			best = z
		}
	}
	if best != "" {
		return s.stubs[best]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, u := range s.upstreams {
		ap, err := netip.ParseAddrPort(u)
		if err == nil && slices.Contains(s.held, ap.Addr()) {
			continue
		}
		out = append(out, u)
	}
	return out
}

// Cleanup removes what a previous run left: the addresses on lo, the table, and a bridge still
// holding the sockets for a next agent that will not serve them.
func (s *Server) Cleanup(ctx context.Context) error {
	if c, files := takeOver(s.opts.Handover); c != nil {
		closeAll(files)
		release(c)
	}
	addrs, err := tableAddrs(ctx, s.table)
	if err != nil {
		return err
	}
	return errors.Join(s.addrs.Remove(addrs), deleteTable(ctx, s.table))
}

// stripPod keeps the fields the records use; the rest of a Pod is most of its memory.
func stripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion, DeletionTimestamp: p.DeletionTimestamp},
		Spec:       corev1.PodSpec{HostNetwork: p.Spec.HostNetwork, Hostname: p.Spec.Hostname, Subdomain: p.Spec.Subdomain, NodeName: p.Spec.NodeName},
		Status:     corev1.PodStatus{Phase: p.Status.Phase, PodIPs: p.Status.PodIPs},
	}, nil
}
