// Package agent is weft's per-node agent. It prepares the node for pods (once the Node has
// podCIDRs it writes the CNI configuration and enables forwarding) and routes to other nodes'
// pods with the chosen backend. The service proxy and the rest join it as features of the same shape.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/egress"
	"github.com/weftnet/weft/internal/overlay"
)

// Options configure the agent.
type Options struct {
	NodeName   string
	CNIConfDir string
	MTU        int
	Backend    string
	Resync     time.Duration
	// ClusterCIDRs and ServiceCIDRs are the cluster's ranges: pod traffic to them keeps its
	// source; pod traffic anywhere else is masqueraded, except to NoMasqueradeCIDRs.
	ClusterCIDRs      []string
	ServiceCIDRs      []string
	NoMasqueradeCIDRs []string
	IPv6Masquerade    bool
}

// Backends are the cross-node backends this agent knows, by K3s's names.
var Backends = []string{"host-gw", "none"}

// Defaults are the container runtimes' usual CNI directory and a one-minute repair resync.
func Defaults() Options {
	return Options{CNIConfDir: "/etc/cni/net.d", Backend: "host-gw", Resync: time.Minute}
}

// AddFlags binds the options.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "name of this node's Node object (default: the host name)")
	fs.StringVar(&o.CNIConfDir, "cni-conf-dir", o.CNIConfDir, "directory the container runtime reads CNI configurations from")
	fs.IntVar(&o.MTU, "mtu", o.MTU, "MTU of pod interfaces (default: that of the interface carrying the node's address)")
	fs.StringVar(&o.Backend, "backend", o.Backend, "how pods reach pods on other nodes: host-gw (routes via node addresses; nodes on one L2 segment) or none (another CNI or the fabric routes)")
	fs.StringSliceVar(&o.ClusterCIDRs, "cluster-cidr", o.ClusterCIDRs, "the cluster's pod ranges; pods' traffic leaving them is masqueraded to the node's address")
	fs.StringSliceVar(&o.ServiceCIDRs, "service-cidr", o.ServiceCIDRs, "the cluster's service ranges (never masqueraded to)")
	fs.StringSliceVar(&o.NoMasqueradeCIDRs, "no-masquerade-cidr", o.NoMasqueradeCIDRs, "destinations that see pods' own addresses (routed networks); repeatable")
	fs.BoolVar(&o.IPv6Masquerade, "ipv6-masq", o.IPv6Masquerade, "masquerade IPv6 pod traffic too (K3s's --flannel-ipv6-masq)")
	fs.DurationVar(&o.Resync, "resync", o.Resync, "how often to rewrite the node's configuration even when nothing changed")
}

// Validate names every problem.
func (o *Options) Validate() error {
	var errs []error
	if o.NodeName == "" {
		errs = append(errs, errors.New("--node-name: give this node's name"))
	}
	if o.MTU != 0 && (o.MTU < 1280 || o.MTU > 65535) {
		errs = append(errs, fmt.Errorf("--mtu %d: use 1280 to 65535 (1280 is IPv6's minimum)", o.MTU))
	}
	if !slices.Contains(Backends, o.Backend) {
		errs = append(errs, fmt.Errorf("--backend %q: use one of %s (vxlan is not built yet)", o.Backend, strings.Join(Backends, ", ")))
	}
	for _, l := range []struct {
		flag  string
		cidrs []string
	}{{"--cluster-cidr", o.ClusterCIDRs}, {"--service-cidr", o.ServiceCIDRs}, {"--no-masquerade-cidr", o.NoMasqueradeCIDRs}} {
		if _, err := parsePrefixes(l.flag, l.cidrs); err != nil {
			errs = append(errs, err)
		}
	}
	if !filepath.IsAbs(o.CNIConfDir) {
		errs = append(errs, fmt.Errorf("--cni-conf-dir %q: give an absolute path", o.CNIConfDir))
	}
	return errors.Join(errs...)
}

// Agent watches the Nodes: its own for the CNI configuration, all of them for routes.
type Agent struct {
	opts    Options
	client  kubernetes.Interface
	log     *slog.Logger
	overlay interface {
		Sync(self string, nodes []*corev1.Node) error
		Cleanup() error
	}
	masq *egress.Masquerade // nil without --cluster-cidr
}

// New makes an agent; Run starts it.
func New(opts Options, client kubernetes.Interface, log *slog.Logger) (*Agent, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	a := &Agent{opts: opts, client: client, log: log, overlay: overlay.NewHostGW(h)}
	if len(opts.ClusterCIDRs) > 0 {
		nft, err := knftables.New(knftables.InetFamily, egress.Table)
		if err != nil {
			return nil, fmt.Errorf("nftables: %w (install the nftables package)", err)
		}
		pods, _ := parsePrefixes("--cluster-cidr", opts.ClusterCIDRs)
		keep, _ := parsePrefixes("", append(append(append([]string{}, opts.ClusterCIDRs...), opts.ServiceCIDRs...), opts.NoMasqueradeCIDRs...))
		a.masq = egress.NewMasquerade(nft, pods, keep, opts.IPv6Masquerade)
	}
	return a, nil
}

func parsePrefixes(flag string, cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil || p != p.Masked() {
			return nil, fmt.Errorf("%s %q: give a network such as 10.42.0.0/16", flag, c)
		}
		out = append(out, p)
	}
	return out, nil
}

// Run keeps the node's configuration in line with its Node object until ctx ends. Informers
// only mark the node dirty; one worker syncs, retrying with back-off on failure.
func (a *Agent) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(a.client, a.opts.Resync)
	nodes := factory.Core().V1().Nodes()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer queue.ShutDown()
	mark := func(any) { queue.Add(a.opts.NodeName) }
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: mark, UpdateFunc: func(_, o any) { mark(o) }, DeleteFunc: mark,
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
		return ctx.Err()
	}
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for {
		key, quit := queue.Get()
		if quit {
			return nil
		}
		err := a.sync(nodes.Lister())
		if err != nil {
			a.log.Error("node sync failed; retrying", "err", err)
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

// sync makes the node ready for pods once it has podCIDRs, and routes to every other node's pods.
func (a *Agent) sync(lister listersv1.NodeLister) error {
	all, err := lister.List(labels.Everything())
	if err != nil {
		return err
	}
	var routeErr error
	if a.opts.Backend == "host-gw" {
		routeErr = a.overlay.Sync(a.opts.NodeName, all)
	} else {
		routeErr = a.overlay.Cleanup() // switched to none: no route of ours may stay
	}
	if a.masq != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		routeErr = errors.Join(routeErr, a.masq.Sync(ctx))
	}
	node, err := lister.Get(a.opts.NodeName)
	if err != nil {
		return errors.Join(routeErr, fmt.Errorf("own Node %s: %w", a.opts.NodeName, err))
	}
	return errors.Join(routeErr, a.syncCNI(node))
}

// syncCNI writes the node's CNI configuration once the Node has podCIDRs.
func (a *Agent) syncCNI(node *corev1.Node) error {
	if len(node.Spec.PodCIDRs) == 0 {
		a.log.Info("waiting for the Node's podCIDRs")
		return nil
	}
	if err := enableForwarding(); err != nil {
		return err
	}
	mtu := a.opts.MTU
	if mtu == 0 {
		mtu = nodeMTU(node)
	}
	conf, err := cniConfList(node.Spec.PodCIDRs, mtu)
	if err != nil {
		return err
	}
	changed, err := writeIfChanged(filepath.Join(a.opts.CNIConfDir, ConfListName), conf)
	if err != nil {
		return err
	}
	if changed {
		a.log.Info("CNI configuration written", "podCIDRs", node.Spec.PodCIDRs, "mtu", mtu)
	}
	return nil
}

// enableForwarding lets the node route between its pods and the rest of the network.
func enableForwarding() error {
	for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if b, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(b)) == "1" {
			continue
		}
		if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("enable forwarding (%s): %w", f, err)
		}
	}
	return nil
}

// nodeMTU is the MTU of the interface holding the node's first InternalIP; 1500 if none is found.
func nodeMTU(node *corev1.Node) int {
	var ip net.IP
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = net.ParseIP(a.Address)
			break
		}
	}
	ifaces, _ := net.Interfaces()
	for _, iface := range ifaces {
		addrs, _ := iface.Addrs()
		for _, addr := range addrs {
			if n, ok := addr.(*net.IPNet); ok && ip != nil && n.IP.Equal(ip) {
				return iface.MTU
			}
		}
	}
	return 1500
}
