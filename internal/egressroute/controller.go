package egressroute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/weftnet/weft/internal/nft"
)

// RBACRules are what this feature reads and writes; the agent's ClusterRole must include them.
var RBACRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "nodes"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{GVR.Group}, Resources: []string{GVR.Resource}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{GVR.Group}, Resources: []string{GVR.Resource + "/status"}, Verbs: []string{"get", "update", "patch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"servicecidrs"}, Verbs: []string{"get", "list", "watch"}},
}

// Options configure the controller; the agent fills them from its own flags.
type Options struct {
	// NodeName is this node's Node: its pods are the ones routed, its entry the one written.
	NodeName string
	// ClusterCIDRs and ServiceCIDRs are the cluster's own ranges (--cluster-cidr,
	// --service-cidr): traffic to them is never rerouted, destinations inside them are refused.
	// The ranges of ServiceCIDR objects count the same, also those added at run time.
	ClusterCIDRs []netip.Prefix
	ServiceCIDRs []netip.Prefix
	// Resync is how often the whole state is rewritten even if nothing changed, repairing
	// what someone deleted by hand (default one minute).
	Resync time.Duration
	// MinSyncInterval spaces syncs out when events arrive in bursts (default one second).
	MinSyncInterval time.Duration
	Log             *slog.Logger
}

// Validate names every problem.
func (o *Options) Validate() error {
	var errs []error
	if o.NodeName == "" {
		errs = append(errs, errors.New("egressroute: NodeName: give this node's name"))
	}
	for _, p := range append(append([]netip.Prefix(nil), o.ClusterCIDRs...), o.ServiceCIDRs...) {
		if !p.IsValid() || p != p.Masked() {
			errs = append(errs, fmt.Errorf("egressroute: cluster range %s: give a network such as 10.42.0.0/16", p))
		}
	}
	if o.Resync < 0 || o.MinSyncInterval < 0 {
		errs = append(errs, errors.New("egressroute: Resync and MinSyncInterval cannot be negative"))
	}
	return errors.Join(errs...)
}

// Controller applies EgressRoutes to this node and reports on them.
type Controller struct {
	opts    Options
	client  kubernetes.Interface
	dyn     dynamic.Interface
	kernel  Kernel
	table   *nft.Table // inet weft-egressroute, through kernel.NFT
	log     *slog.Logger
	cluster []netip.Prefix
	last    map[string]NodeStatus // entries of the previous sync, to log changes only
}

// New makes a controller; Run starts it. kernel is usually NewKernel(), in the node's namespace.
func New(opts Options, client kubernetes.Interface, dyn dynamic.Interface, kernel Kernel) (*Controller, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Resync == 0 {
		opts.Resync = time.Minute
	}
	if opts.MinSyncInterval == 0 {
		opts.MinSyncInterval = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cluster := append(append([]netip.Prefix(nil), opts.ClusterCIDRs...), opts.ServiceCIDRs...)
	return &Controller{opts: opts, client: client, dyn: dyn, kernel: kernel, table: nft.NewTable(kernel.NFT, tableComment),
		log: opts.Log.With("feature", "egressroute"), cluster: cluster, last: map[string]NodeStatus{}}, nil
}

// sync makes the node match the snapshot: routes and rules first, then the marks that send
// packets to them in one nftables transaction, then the removal of what is no longer wanted,
// so no packet is ever marked for a table that is not there. Status comes last: a failure to
// report never holds up the data plane.
func (c *Controller) sync(ctx context.Context, snap snapshot) error {
	cluster := append(slices.Clip(c.cluster), snap.serviceCIDRs...)
	plans := makePlans(c.opts.NodeName, snap, cluster, c.kernel.Netlink)
	if err := addRoutes(c.kernel.Netlink, plans); err != nil {
		return err
	}
	if _, err := c.writeTable(ctx, contents(plans, cluster)); err != nil {
		return err
	}
	errs := []error{removeStale(c.kernel.Netlink, plans), looseRPFilter(c.kernel.Sysctl, plans)}
	seen := map[string]bool{}
	for _, p := range plans {
		name := p.er.Name
		seen[name] = true
		if last, ok := c.last[name]; !ok || last != p.entry {
			c.log.Info("EgressRoute on this node", "route", name, "slot", p.slot, "ready", p.entry.Ready, "reason", p.entry.Reason, "message", p.entry.Message)
			c.last[name] = p.entry
		}
		if u := snap.objects[name]; u != nil {
			if err := writeStatus(ctx, c.dyn, u, p.entry, p.invalid, snap.nodes); err != nil {
				errs = append(errs, fmt.Errorf("status of EgressRoute %s: %w", name, err))
			}
		}
	}
	for name := range c.last {
		if !seen[name] {
			delete(c.last, name)
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes everything this feature put in the kernel, for when it is turned off. It
// leaves rp_filter loose: stricter filtering could break routes others made meanwhile.
func (c *Controller) Cleanup(ctx context.Context) error {
	err := c.table.Delete(ctx)
	if err != nil {
		err = fmt.Errorf("delete table inet %s: %w", Table, err)
	}
	return errors.Join(err, removeStale(c.kernel.Netlink, nil))
}

// writeTable hands the table its owners' contents, dropping the routes gone since the last
// sync, and syncs it in full: the table compares the kernel's with what it wrote, so what
// someone deleted by hand, or an earlier run left (a set of a route deleted meanwhile), is
// repaired or removed in the same transaction as the change. It returns what it sent (nil:
// nothing).
func (c *Controller) writeTable(ctx context.Context, want map[string]*nft.Contents) (*nft.Tx, error) {
	c.table.SetAll(want)
	tx, err := c.table.Sync(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return tx, nil
}

// parseAll turns the informer's objects into routes; an object that does not parse becomes an
// empty route whose parse error is its only validation problem, so its status says so.
func parseAll(objs []*unstructured.Unstructured) ([]*EgressRoute, map[string]error) {
	var routes []*EgressRoute
	broken := map[string]error{}
	for _, u := range objs {
		er, err := FromUnstructured(u)
		if err != nil {
			er = &EgressRoute{}
			er.Name, er.Generation, er.CreationTimestamp = u.GetName(), u.GetGeneration(), u.GetCreationTimestamp()
			broken[u.GetName()] = err
		}
		routes = append(routes, er)
	}
	return routes, broken
}
