package egressroute

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/weftnet/weft/internal/netaddr"
)

// snapshot is everything one sync reads from the informers.
type snapshot struct {
	routes     []*EgressRoute
	broken     map[string]error                      // routes whose objects did not parse
	objects    map[string]*unstructured.Unstructured // by name, for status writes
	pods       []*corev1.Pod                         // this node's pods
	namespaces map[string]labels.Set                 // namespace name -> labels
	podCIDRs   []netip.Prefix                        // this node's podCIDRs, if assigned
	nodes      []string                              // every Node's name
	// serviceCIDRs are the ranges of the cluster's ServiceCIDR objects, which grow at run
	// time: as much the cluster's own as the flags' ranges.
	serviceCIDRs []netip.Prefix
}

// plan is what one EgressRoute becomes on this node.
type plan struct {
	er      *EgressRoute
	slot    int // 0: none
	invalid []error
	entry   NodeStatus // this node's verdict; the data plane only gets plans with entry.Ready
	hop     hop
	dsts    [2][]netip.Prefix // [0] IPv4, [1] IPv6
	pods    [2][]netip.Prefix // sources: pod addresses, or the node's podCIDRs
}

// hop is where a route's packets leave this node.
type hop struct {
	gw       netip.Addr // invalid: straight out of the link
	link     int
	linkName string
	local    bool // the next hop is this node itself: its own routes apply
}

// makePlans judges every route for this node: validity, a slot, the next hop as the kernel
// sees it, and the local pods it selects.
func makePlans(node string, snap snapshot, cluster []netip.Prefix, nl Netlink) []*plan {
	slots := assignSlots(snap.routes)
	var plans []*plan
	for _, er := range snap.routes {
		p := &plan{er: er, slot: slots[er.Name]}
		if err := snap.broken[er.Name]; err != nil {
			p.invalid = []error{err}
		} else {
			p.invalid = Validate(&er.Spec, cluster)
		}
		p.entry = NodeStatus{Node: node, ObservedGeneration: er.Generation}
		switch {
		case len(p.invalid) > 0:
			p.entry.Reason, p.entry.Message = ReasonInvalid, joinErrors(p.invalid)
		case p.slot == 0:
			p.entry.Reason = ReasonTooManyRoutes
			p.entry.Message = fmt.Sprintf("a cluster holds at most %d EgressRoutes; this one is among the newest past that", MaxRoutes)
		default:
			p.hop, p.entry.Reason, p.entry.Message = resolveHop(nl, &er.Spec)
		}
		if p.entry.Reason == "" || p.entry.Reason == ReasonNextHopIsThisNode {
			p.entry.Ready = true
			if p.entry.Reason == "" {
				p.entry.Reason, p.entry.Message = ReasonApplied, describe(&er.Spec, p.hop)
			}
			for _, d := range er.Spec.Destinations {
				pfx := netip.MustParsePrefix(d) // Validate parsed it
				p.dsts[famIndex(pfx)] = append(p.dsts[famIndex(pfx)], pfx)
			}
			for _, src := range selectSources(node, &er.Spec, snap) {
				p.pods[famIndex(src)] = append(p.pods[famIndex(src)], src)
			}
		}
		plans = append(plans, p)
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].er.Name < plans[j].er.Name })
	return plans
}

// fail takes a plan out of the data plane, saying why in this node's entry.
func (p *plan) fail(err error) {
	p.entry.Ready, p.entry.Reason, p.entry.Message = false, ReasonKernelError, err.Error()
}

// resolveHop asks the kernel where the next hop is; a reason says why the route cannot apply.
func resolveHop(nl Netlink, spec *Spec) (h hop, reason, message string) {
	if spec.Interface != "" {
		l, err := nl.LinkByName(spec.Interface)
		var notFound netlink.LinkNotFoundError
		switch {
		case errors.As(err, &notFound):
			return h, ReasonInterfaceNotFound, fmt.Sprintf("interface %s does not exist on this node", spec.Interface)
		case err != nil:
			return h, ReasonKernelError, fmt.Sprintf("interface %s: %v", spec.Interface, err)
		case l.Attrs().Flags&net.FlagUp == 0:
			return h, ReasonInterfaceDown, fmt.Sprintf("interface %s is down", spec.Interface)
		}
		h.link, h.linkName = l.Attrs().Index, spec.Interface
	}
	if spec.Via == "" {
		return h, "", ""
	}
	h.gw = netip.MustParseAddr(spec.Via)
	if h.gw.IsLinkLocalUnicast() {
		return h, "", "" // only meaningful on the given link, which the kernel checks on insert
	}
	routes, err := nl.RouteGet(net.IP(h.gw.AsSlice()))
	if err != nil || len(routes) == 0 {
		return h, ReasonNextHopUnreachable, fmt.Sprintf("this node has no route to via %s (%v); give a router on one of the node's own networks", h.gw, err)
	}
	r := routes[0]
	switch {
	case r.Type == unix.RTN_LOCAL:
		h.local = true
		return h, ReasonNextHopIsThisNode, fmt.Sprintf("via %s is this node's own address: pods here leave by the node's own routes", h.gw)
	case r.Gw != nil:
		return h, ReasonNextHopUnreachable, fmt.Sprintf("via %s is not on a network this node is connected to (the node reaches it through %s); give a router on one of the node's own networks", h.gw, r.Gw)
	}
	l, err := nl.LinkByIndex(r.LinkIndex)
	if err != nil {
		return h, ReasonKernelError, fmt.Sprintf("link of via %s: %v", h.gw, err)
	}
	if h.link != 0 && r.LinkIndex != h.link {
		return h, ReasonNextHopUnreachable, fmt.Sprintf("via %s is reached through %s, not interface %s", h.gw, l.Attrs().Name, spec.Interface)
	}
	h.link, h.linkName = r.LinkIndex, l.Attrs().Name
	return h, "", ""
}

// selectSources is the source addresses of the local pods the route selects. With no
// selectors at all, the node's podCIDRs stand for every pod, so pods coming and going never
// change the ruleset.
func selectSources(node string, spec *Spec, snap snapshot) []netip.Prefix {
	if spec.NamespaceSelector == nil && spec.PodSelector == nil && len(snap.podCIDRs) > 0 {
		return snap.podCIDRs
	}
	nsSel, podSel := selector(spec.NamespaceSelector), selector(spec.PodSelector)
	var out []netip.Prefix
	for _, pod := range snap.pods {
		if pod.Spec.NodeName != node || pod.Spec.HostNetwork || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		if !nsSel.Matches(snap.namespaces[pod.Namespace]) || !podSel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		for _, ip := range pod.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			}
		}
	}
	return out
}

// selector treats an absent selector as "everything", as the API documents; Validate has
// already refused selectors that do not parse.
func selector(s *metav1.LabelSelector) labels.Selector {
	if s == nil {
		return labels.Everything()
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

// describe is the Ready entry's message: stable while pods come and go, so that pod churn
// never turns into status writes.
func describe(spec *Spec, h hop) string {
	where := "out of " + h.linkName
	if h.gw.IsValid() {
		where = fmt.Sprintf("via %s on %s", h.gw, h.linkName)
	}
	src := "masqueraded to the node's address"
	if !spec.Masquerades() {
		src = "keeping pods' addresses"
	}
	return fmt.Sprintf("%s, %s", where, src)
}

func famIndex(p netip.Prefix) netaddr.Family { return netaddr.OfPrefix(p) }

func joinErrors(errs []error) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}
