package proxy

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/weftnet/weft/internal/loadbalancer"
)

// syncLoadBalancers hands the LoadBalancer controller the cluster as this sync saw it.
func (p *Proxy) syncLoadBalancers(ctx context.Context, inf proxyInformers) error {
	services, endpointNodes, err := p.loadBalancerServices(inf)
	if err != nil {
		return err
	}
	nodes, err := inf.nodes.Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	var nodeIP netip.Addr
	if ips := p.nodeIPs(inf); len(ips) > 0 {
		nodeIP = ips[0]
	}
	return p.lb.Sync(ctx, loadbalancer.Cluster{Services: services, EndpointNodes: endpointNodes, Nodes: nodes, NodeIP: nodeIP})
}

// loadBalancerServices are the LoadBalancer Services, with the nodes that hold a ready
// endpoint of each (an externalTrafficPolicy Local service is announced by one of those).
func (p *Proxy) loadBalancerServices(inf proxyInformers) ([]*corev1.Service, map[string][]string, error) {
	var out []*corev1.Service
	nodes := map[string][]string{}
	for k := range p.loadBalancers {
		ns, name, _ := strings.Cut(k, "/")
		svc, err := inf.services.Lister().Services(ns).Get(name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, svc)
		objs, err := inf.slices.Informer().GetIndexer().ByIndex(byService, k)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range objs {
			for _, e := range o.(*discoveryv1.EndpointSlice).Endpoints {
				if e.NodeName != nil && (e.Conditions.Ready == nil || *e.Conditions.Ready) && !slices.Contains(nodes[k], *e.NodeName) {
					nodes[k] = append(nodes[k], *e.NodeName)
				}
			}
		}
	}
	return out, nodes, nil
}
