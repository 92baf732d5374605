package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/weftnet/weft/internal/kubenode"
	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/syncrunner"
)

// controlPlaneRouteProtocol tags the routes the lab keeps in the control-plane namespace, so a
// sync finds its own and nothing else (the overlay's on the nodes are 87).
const controlPlaneRouteProtocol netlink.RouteProtocol = 88

// cpRoute is one route of the control plane: dst via a node's InternalIP on the LAN.
type cpRoute struct {
	Dst netip.Prefix
	Via netip.Addr
}

func (r cpRoute) String() string { return r.Dst.String() + " via " + r.Via.String() }

// controlPlaneRoutes keeps the control plane's routes to the pods: every Node's podCIDRs via
// that Node's InternalIP, and the service ranges via the first node (by name) of each family,
// whose proxy translates and masquerades, so replies come back the same way. The API server
// dials pods for pods/proxy and services/proxy as on a real cluster, where the control plane's
// hosts route to the pod network; the control plane is no Node, so no agent does it here.
// Replies need nothing more: a pod answers the API server's address through its node, and
// the node's egress masquerade only touches new connections, not the replies of this one.
type controlPlaneRoutes struct {
	netns        string
	serviceCIDRs []netip.Prefix
	log          *slog.Logger
	nodes        cache.SharedIndexInformer
	runner       *syncrunner.Runner
	last         string // the routes last logged
}

func newControlPlaneRoutes(kubeconfig, netns string, serviceCIDRs []netip.Prefix, log *slog.Logger) (*controlPlaneRoutes, error) {
	// A client of its own, without adminClient's request timeout, which would cut the watch.
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.UserAgent = "weft-lab-routes"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	r := &controlPlaneRoutes{netns: netns, serviceCIDRs: serviceCIDRs, log: log}
	r.runner = syncrunner.New(r.sync, syncrunner.Options{MaxInterval: 10 * time.Second, RetryMin: time.Second, RetryMax: 10 * time.Second})
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	r.nodes = factory.Core().V1().Nodes().Informer()
	mark := func(any) { r.runner.Run() }
	_, _ = r.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: mark, UpdateFunc: func(_, o any) { mark(o) }, DeleteFunc: mark})
	return r, nil
}

// Run syncs on every Node change and every 10 s, which repairs a route deleted by hand; a
// failed sync is retried from 1 s.
func (r *controlPlaneRoutes) Run(ctx context.Context) {
	go r.nodes.Run(ctx.Done())
	_ = r.runner.Loop(ctx)
}

func (r *controlPlaneRoutes) sync(context.Context) error {
	if !r.nodes.HasSynced() {
		return nil // the listing's events ask again, and so does the next period
	}
	var nodes []*corev1.Node
	for _, o := range r.nodes.GetStore().List() {
		nodes = append(nodes, o.(*corev1.Node))
	}
	want := desiredControlPlaneRoutes(nodes, r.serviceCIDRs)
	if err := syncRoutes(r.netns, want); err != nil {
		r.log.Error("control plane routes to pods", "err", err)
		return err
	}
	if s := fmt.Sprint(want); s != r.last {
		r.log.Info("control plane routes to pods", "routes", s)
		r.last = s
	}
	return nil
}

// desiredControlPlaneRoutes is the control plane's route table: podCIDRs via their node's
// InternalIP of the same family on the LAN (a Node without one is skipped), service ranges via
// the first Ready such node by name, so they move off a node that stops.
func desiredControlPlaneRoutes(nodes []*corev1.Node, serviceCIDRs []netip.Prefix) []cpRoute {
	nodes = slices.Clone(nodes)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	var out []cpRoute
	first := map[bool]netip.Addr{}
	for _, n := range nodes {
		for _, s := range n.Spec.PodCIDRs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				continue
			}
			if via := internalIP(n, p.Addr().Is6()); via.IsValid() {
				out = append(out, cpRoute{p.Masked(), via})
			}
		}
		for _, v6 := range []bool{false, true} {
			if via := internalIP(n, v6); via.IsValid() && !first[v6].IsValid() && kubenode.Ready(n) {
				first[v6] = via
			}
		}
	}
	// No node Ready (the lab is starting): the first node with an address will do.
	for _, n := range nodes {
		for _, v6 := range []bool{false, true} {
			if via := internalIP(n, v6); via.IsValid() && !first[v6].IsValid() {
				first[v6] = via
			}
		}
	}
	for _, s := range serviceCIDRs {
		if via := first[s.Addr().Is6()]; via.IsValid() {
			out = append(out, cpRoute{s.Masked(), via})
		}
	}
	return out
}

func internalIP(n *corev1.Node, v6 bool) netip.Addr {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil || ip.Is6() != v6 {
			continue
		}
		if (v6 && LANv6.Contains(ip)) || (!v6 && LANv4.Contains(ip)) {
			return ip
		}
	}
	return netip.Addr{}
}

// syncRoutes makes the namespace's routes of controlPlaneRouteProtocol exactly want.
func syncRoutes(nsName string, want []cpRoute) error {
	ns, err := openNS(nsName)
	if err != nil {
		return err
	}
	defer ns.close()
	link, err := ns.link("eth0")
	if err != nil {
		return err
	}
	have, err := ns.h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: controlPlaneRouteProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("%s: list routes: %w", nsName, err)
	}
	// Keyed by destination: a replace moves a range to another node in place, so the route
	// listed before it is not one to delete.
	keep := map[netip.Prefix]bool{}
	for _, w := range want {
		keep[w.Dst] = true
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: netaddr.IPNet(w.Dst), Gw: net.IP(w.Via.AsSlice()), Protocol: controlPlaneRouteProtocol}
		if err := ns.h.RouteReplace(route); err != nil {
			return fmt.Errorf("%s: route %s: %w", nsName, w, err)
		}
	}
	for _, h := range have {
		if h.Dst == nil || h.Gw == nil {
			continue
		}
		dst, _ := netip.ParsePrefix(h.Dst.String())
		if !keep[dst] {
			if err := ns.h.RouteDel(&h); err != nil {
				return fmt.Errorf("%s: delete route %s via %s: %w", nsName, h.Dst, h.Gw, err)
			}
		}
	}
	return nil
}
