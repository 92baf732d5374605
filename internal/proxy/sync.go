package proxy

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/conntrack"
	"github.com/weftnet/weft/internal/healthcheck"
)

// cidrsOwner owns the cluster's ranges in the table; Service keys always hold a '/'.
const cidrsOwner = "servicecidrs"

// sync brings the table in line with what changed since the last sync: only the marked
// Services are read again and only their objects sent, unless a full sync is due (the first,
// after a failure, and every Resync), which rewrites the table whole.
func (p *Proxy) sync(ctx context.Context, inf proxyInformers) error {
	start := time.Now()
	ch := p.takeChanges()
	triggers, lbTouched, err := p.syncTable(ctx, inf, &ch)
	if err != nil {
		return tableError{err}
	}
	// The table is right now; what follows is retried on its own if it fails, without a
	// full sync.
	var errs []error
	if p.ct != nil && len(p.staleUDP) > 0 {
		if err := conntrack.Clear(p.ct, p.staleUDP); err != nil {
			errs = append(errs, err)
		} else {
			p.staleUDP = nil
		}
	}
	errs = append(errs, p.health.Update(p.healthPorts()))
	if lbTouched && p.lb.Enabled() {
		if err := p.syncLoadBalancers(ctx, inf); err != nil {
			p.mark(func(c *changes) { c.nodes = true })
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.metrics.synced(ch.full, time.Since(start), triggers, p.table)
	p.opts.Log.Debug("service proxy synced", "full", ch.full, "services", len(ch.services), "took", time.Since(start))
	return nil
}

// tableError is a sync that failed before the table was right: the next sync is full.
type tableError struct{ error }

func (e tableError) Unwrap() error { return e.error }

// syncTable brings the table in line with the changes, returning the endpoint change times it
// programmed and whether LoadBalancer owners need a look.
func (p *Proxy) syncTable(ctx context.Context, inf proxyInformers, ch *changes) (triggers []time.Time, lbTouched bool, err error) {
	if ch.nodes {
		// The node's zone decides which hinted endpoints serve it; a new zone changes them all.
		if zone := p.zoneOf(inf); zone != p.where.zone {
			p.where.zone, ch.full = zone, true
		}
	}
	if ch.full {
		all, err := inf.services.Lister().List(labels.Everything())
		if err != nil {
			return nil, false, err
		}
		for _, s := range all {
			ch.services[s.Namespace+"/"+s.Name] = true
		}
		for k := range p.services {
			ch.services[k] = true
		}
	}
	triggers, lbTouched, err = p.refresh(inf, ch.services)
	if err != nil {
		return nil, false, err
	}
	lbTouched = lbTouched || ch.full || ch.nodes
	if ch.full || ch.cidrs || ch.nodes {
		cidrs, err := p.serviceCIDRs(inf)
		if err != nil {
			return nil, false, err
		}
		p.table.set(cidrsOwner, cidrContribution(cidrs, p.opts.ClusterCIDRs, p.nodeIPs(inf)))
	}

	if _, err := p.table.sync(ctx, ch.full); err != nil {
		// The table writes the whole table on the next sync, in place after a partial sync
		// failed, afresh after a full one did.
		return nil, false, err
	}
	return triggers, lbTouched, nil
}

// refresh reads the given Services again and hands the table what they now want. It
// returns the endpoint change times now being programmed, and whether a LoadBalancer
// Service was among them.
func (p *Proxy) refresh(inf proxyInformers, keys map[string]bool) (triggers []time.Time, loadBalancers bool, err error) {
	for k := range keys {
		st, trigger, err := p.readService(inf, k)
		if err != nil {
			return nil, false, err
		}
		old := p.services[k]
		if (old != nil && old.loadBalancer) || (st != nil && st.loadBalancer) {
			loadBalancers = true
		}
		var oldPorts, newPorts []*servicePort
		if old != nil {
			oldPorts = old.ports
		}
		if st != nil {
			newPorts = st.ports
			if old != nil {
				st.trigger = old.trigger
			}
			if trigger.After(st.trigger) {
				triggers = append(triggers, trigger)
				st.trigger = trigger
			}
			p.services[k] = st
		} else {
			delete(p.services, k)
		}
		delete(p.localPolicy, k)
		delete(p.loadBalancers, k)
		if st != nil && st.loadBalancer {
			p.loadBalancers[k] = true
		}
		for _, sp := range newPorts {
			if sp.externalLocal {
				p.localPolicy[k] = true
			}
		}
		if old != nil {
			p.staleUDP = append(p.staleUDP, conntrack.StaleUDP(udpTargets(oldPorts), udpTargets(newPorts))...)
		}
		p.metrics.countPorts(oldPorts, newPorts)
		p.table.set(k, serviceContribution(newPorts, len(p.opts.ClusterCIDRs) > 0))
	}
	return triggers, loadBalancers, nil
}

// readService reads one Service and its EndpointSlices from the caches (nil: it is gone), with
// the newest change-trigger time its slices carry.
func (p *Proxy) readService(inf proxyInformers, key string) (*serviceState, time.Time, error) {
	var trigger time.Time
	ns, name, _ := strings.Cut(key, "/")
	svc, err := inf.services.Lister().Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, trigger, nil
	}
	if err != nil {
		return nil, trigger, err
	}
	objs, err := inf.slices.Informer().GetIndexer().ByIndex(byService, key)
	if err != nil {
		return nil, trigger, err
	}
	eps := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		s := o.(*discoveryv1.EndpointSlice)
		eps = append(eps, s)
		if t, err := time.Parse(time.RFC3339, s.Annotations[corev1.EndpointsLastChangeTriggerTime]); err == nil && t.After(trigger) {
			trigger = t
		}
	}
	return &serviceState{ports: servicePorts(svc, eps, p.where), loadBalancer: svc.Spec.Type == corev1.ServiceTypeLoadBalancer}, trigger, nil
}

// zoneOf reads this node's zone from its Node ("" if unknown).
func (p *Proxy) zoneOf(inf proxyInformers) string {
	n, err := inf.nodes.Lister().Get(p.opts.NodeName)
	if err != nil {
		return ""
	}
	return n.Labels[corev1.LabelTopologyZone]
}

// nodeIPs reads this node's InternalIP addresses from its Node (none if unknown).
func (p *Proxy) nodeIPs(inf proxyInformers) []netip.Addr {
	n, err := inf.nodes.Lister().Get(p.opts.NodeName)
	if err != nil {
		return nil
	}
	var ips []netip.Addr
	for _, a := range n.Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == corev1.NodeInternalIP {
			ips = append(ips, ip.Unmap())
		}
	}
	return ips
}

func (p *Proxy) serviceCIDRs(inf proxyInformers) ([]netip.Prefix, error) {
	ranges, err := inf.cidrs.Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return cidr.OfServiceCIDRs(ranges), nil
}

// healthPorts are the ports of externalTrafficPolicy Local services, whose health checks
// this node answers. Only those services are looked at: walking every service on each sync
// would cost milliseconds at tens of thousands.
func (p *Proxy) healthPorts() []healthcheck.Port {
	var out []healthcheck.Port
	for k := range p.localPolicy {
		for _, sp := range p.services[k].ports {
			if sp.externalLocal {
				out = append(out, healthcheck.Port{Namespace: sp.namespace, Name: sp.name, HealthCheckNodePort: sp.healthCheckNodePort, LocalReady: sp.localReady})
			}
		}
	}
	return out
}
