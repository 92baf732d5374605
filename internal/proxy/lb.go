package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/weftnet/weft/internal/kubenode"
)

// Addresses is the part of netlink the announcer uses; *netlink.Handle has it.
type Addresses interface {
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	AddrAdd(link netlink.Link, addr *netlink.Addr) error
	AddrDel(link netlink.Link, addr *netlink.Addr) error
	LinkByIndex(index int) (netlink.Link, error)
}

// syncLoadBalancers gives LoadBalancer Services addresses from the pools and answers for the
// ones this node owns. One agent writes statuses (the holder of the status Lease, lblease.go),
// so agents never race; every agent announces what rendezvous hashing gives it, among the Ready nodes, or for
// externalTrafficPolicy Local among those with an endpoint of the service.
func (p *Proxy) syncLoadBalancers(ctx context.Context, inf proxyInformers) error {
	if len(p.opts.LBPools) == 0 {
		return nil
	}
	services, endpointNodes, err := p.loadBalancerServices(inf)
	if err != nil {
		return err
	}
	nodes, err := inf.nodes.Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	var ready []string
	for _, n := range nodes {
		if kubenode.Ready(n) {
			ready = append(ready, n.Name)
		}
	}
	slices.Sort(ready)
	var errs []error
	// Addresses are announced from the interface that holds the node's first InternalIP.
	var nodeIP netip.Addr
	if ips := p.nodeIPs(inf); len(ips) > 0 {
		nodeIP = ips[0]
	}
	if p.lease.held.Load() {
		errs = append(errs, p.writeStatuses(ctx, services))
	}
	var mine []netip.Addr
	for _, s := range services {
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		candidates := ready
		if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			// Only a node with an endpoint can serve outside clients of a Local service.
			candidates = slices.DeleteFunc(slices.Clone(ready), func(n string) bool { return !slices.Contains(endpointNodes[key(s)], n) })
		}
		if announcer(key(s), candidates) != p.opts.NodeName {
			continue
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil && inPools(a, p.opts.LBPools) {
				mine = append(mine, a)
			}
		}
	}
	errs = append(errs, p.announce(nodeIP, mine))
	return errors.Join(errs...)
}

// writeStatuses writes each Service's allocated addresses into its status, and an event when
// the pool cannot serve it (once per new problem, not once per sync).
func (p *Proxy) writeStatuses(ctx context.Context, services []*corev1.Service) error {
	var errs []error
	allocations := allocate(services, p.opts.LBPools)
	for _, s := range services {
		al, ok := allocations[key(s)]
		if !ok {
			continue
		}
		if al.problem != "" && p.reported[key(s)] != al.problem {
			p.reported[key(s)] = al.problem
			errs = append(errs, p.event(ctx, s, "LoadBalancerPoolExhausted", al.problem))
		}
		var want []corev1.LoadBalancerIngress
		for _, ip := range al.ips {
			want = append(want, corev1.LoadBalancerIngress{IP: ip.String(), IPMode: ptrTo(corev1.LoadBalancerIPModeVIP)})
		}
		if sameIngress(s.Status.LoadBalancer.Ingress, want) {
			continue
		}
		c := s.DeepCopy()
		c.Status.LoadBalancer.Ingress = want
		if _, err := p.client.CoreV1().Services(s.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("service %s: write load balancer status: %w", key(s), err))
		}
	}
	return errors.Join(errs...)
}

func sameIngress(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool { return x.IP == y.IP })
}

func (p *Proxy) event(ctx context.Context, s *corev1.Service, reason, msg string) error {
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: s.Name + ".", Namespace: s.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: s.Namespace, Name: s.Name, UID: s.UID},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Count: 1,
		FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "weft-lb-pool", Host: p.opts.NodeName},
	}
	if _, err := p.client.CoreV1().Events(s.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("event for %s: %w", key(s), err)
	}
	return nil
}

// announce puts exactly the given pool addresses on the interface that holds the node's
// address, so the node answers ARP and NDP for them, and takes off the pool addresses it no
// longer owns. Addresses outside the pools are never touched.
func (p *Proxy) announce(nodeIP netip.Addr, mine []netip.Addr) error {
	if p.addrs == nil || !nodeIP.IsValid() {
		return nil
	}
	have, index, err := p.poolAddresses(nodeIP)
	if err != nil {
		return err
	}
	if index == 0 {
		return fmt.Errorf("the node's address %s is on none of its interfaces", nodeIP)
	}
	link, err := p.addrs.LinkByIndex(index)
	if err != nil {
		return err
	}
	var errs []error
	for _, ip := range mine {
		if _, ok := have[ip]; ok {
			delete(have, ip)
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}, Flags: unix.IFA_F_NODAD}
		if err := p.addrs.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("announce %s: %w", ip, err))
			continue
		}
		if p.tell != nil {
			errs = append(errs, p.tell(link.Attrs().Index, link.Attrs().HardwareAddr, ip))
		}
	}
	errs = append(errs, p.withdraw(have))
	return errors.Join(errs...)
}

// poolAddresses lists the pool addresses on the node's interfaces, and the index of the
// interface that holds nodeIP (0 if none does).
func (p *Proxy) poolAddresses(nodeIP netip.Addr) (map[netip.Addr]netlink.Addr, int, error) {
	all, err := p.addrs.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, 0, fmt.Errorf("list addresses: %w", err)
	}
	index := 0
	have := map[netip.Addr]netlink.Addr{}
	for _, a := range all {
		ip, _ := netip.AddrFromSlice(a.IP)
		ip = ip.Unmap()
		if ip == nodeIP {
			index = a.LinkIndex
		}
		if inPools(ip, p.opts.LBPools) {
			have[ip] = a
		}
	}
	return have, index, nil
}

// withdraw takes addresses off their interfaces.
func (p *Proxy) withdraw(addrs map[netip.Addr]netlink.Addr) error {
	var errs []error
	for ip, a := range addrs {
		l, err := p.addrs.LinkByIndex(a.LinkIndex)
		if err == nil {
			err = p.addrs.AddrDel(l, &a)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stop announcing %s: %w", ip, err))
		}
	}
	return errors.Join(errs...)
}

// withdrawAll takes every pool address off the node's interfaces, for when the proxy is
// turned off or the agent uninstalled.
func (p *Proxy) withdrawAll() error {
	if p.addrs == nil || len(p.opts.LBPools) == 0 {
		return nil
	}
	have, _, err := p.poolAddresses(netip.Addr{})
	if err != nil {
		return err
	}
	return p.withdraw(have)
}

func ptrTo[T any](v T) *T { return &v }
