// Package loadbalancer gives LoadBalancer Services of weft's class real addresses, as K3s's
// ServiceLB does with node addresses: it allocates them from the pools (pool.go), writes them
// into the Services' status from the one agent that holds a coordination Lease (lease.go,
// status.go), and makes one node answer ARP and NDP for each (announce.go, garp.go). The
// service proxy hands it the cluster as it sees it after each sync; it never calls back, and
// the proxy reads the addresses it wrote from the Services like any other.
package loadbalancer

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/weftnet/weft/internal/kubenode"
)

// RBACRules are what the controller writes besides what the proxy reads (Services, Nodes,
// EndpointSlices): statuses, events about exhausted pools, and its Lease.
var RBACRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"update", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
}

// Options configure the controller.
type Options struct {
	NodeName string
	// Pools are the addresses LoadBalancer Services get (none: the controller does nothing).
	Pools []netip.Prefix
	Log   *slog.Logger
}

// Controller serves LoadBalancer addresses for one node's agent.
type Controller struct {
	opts   Options
	client kubernetes.Interface
	addrs  Addresses
	// tell makes the link's neighbours learn a newly announced address (nil: not at all).
	tell func(ifindex int, mac net.HardwareAddr, ip netip.Addr) error
	// lease says whether this agent writes LoadBalancer statuses.
	lease    statusLease
	reported map[string]string // the last pool problem evented per Service
}

// New makes a controller that announces through addrs (nil: announces nothing).
func New(opts Options, client kubernetes.Interface, addrs Addresses) *Controller {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{opts: opts, client: client, reported: map[string]string{}}
	if addrs != nil {
		c.addrs, c.tell = addrs, tellNeighbours
	}
	return c
}

// Enabled says whether there are pools to serve.
func (c *Controller) Enabled() bool { return len(c.opts.Pools) > 0 }

// RunLease competes for the status Lease until ctx ends, calling gained whenever this agent
// takes it (so the caller syncs and statuses are written at once).
func (c *Controller) RunLease(ctx context.Context, gained func()) {
	if c.Enabled() {
		c.lease.run(ctx, c.client, c.opts.NodeName, c.opts.Log, gained)
	}
}

// Cluster is what one sync needs to know of the cluster.
type Cluster struct {
	// Services are the LoadBalancer Services (others are ignored).
	Services []*corev1.Service
	// EndpointNodes are, by Service key (namespace/name), the nodes that hold a ready endpoint.
	EndpointNodes map[string][]string
	Nodes         []*corev1.Node
	// NodeIP is this node's first InternalIP: addresses are announced from the interface
	// that holds it (invalid: announce nothing).
	NodeIP netip.Addr
}

// Sync gives LoadBalancer Services addresses from the pools and answers for the ones this node
// owns. One agent writes statuses (the holder of the status Lease), so agents never race;
// every agent announces what rendezvous hashing gives it, among the Ready nodes, or for
// externalTrafficPolicy Local among those with an endpoint of the service.
func (c *Controller) Sync(ctx context.Context, cl Cluster) error {
	if !c.Enabled() {
		return nil
	}
	var ready []string
	for _, n := range cl.Nodes {
		if kubenode.Ready(n) {
			ready = append(ready, n.Name)
		}
	}
	slices.Sort(ready)
	var errs []error
	if c.lease.held.Load() {
		errs = append(errs, c.writeStatuses(ctx, cl.Services))
	}
	var mine []netip.Addr
	for _, s := range cl.Services {
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		candidates := ready
		if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			// Only a node with an endpoint can serve outside clients of a Local service.
			candidates = slices.DeleteFunc(slices.Clone(ready), func(n string) bool { return !slices.Contains(cl.EndpointNodes[key(s)], n) })
		}
		if announcer(key(s), candidates) != c.opts.NodeName {
			continue
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil && inPools(a, c.opts.Pools) {
				mine = append(mine, a)
			}
		}
	}
	errs = append(errs, c.announce(cl.NodeIP, mine))
	return errors.Join(errs...)
}

// Cleanup takes every pool address off the node's interfaces, for when the proxy is turned
// off or the agent uninstalled.
func (c *Controller) Cleanup() error {
	if c.addrs == nil || !c.Enabled() {
		return nil
	}
	have, _, err := c.poolAddresses(netip.Addr{})
	if err != nil {
		return err
	}
	return c.withdraw(have)
}
