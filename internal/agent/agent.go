// Package agent is weft's per-node agent. This first version prepares the node for pods: once
// the Node has podCIDRs it writes the CNI configuration and enables forwarding. Cross-node
// routing, the service proxy and the rest join it as features of the same shape.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Options configure the agent.
type Options struct {
	NodeName   string
	CNIConfDir string
	MTU        int
	Resync     time.Duration
}

// Defaults are the container runtimes' usual CNI directory and a one-minute repair resync.
func Defaults() Options {
	return Options{CNIConfDir: "/etc/cni/net.d", Resync: time.Minute}
}

// AddFlags binds the options.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "name of this node's Node object (default: the host name)")
	fs.StringVar(&o.CNIConfDir, "cni-conf-dir", o.CNIConfDir, "directory the container runtime reads CNI configurations from")
	fs.IntVar(&o.MTU, "mtu", o.MTU, "MTU of pod interfaces (default: that of the interface carrying the node's address)")
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
	if !filepath.IsAbs(o.CNIConfDir) {
		errs = append(errs, fmt.Errorf("--cni-conf-dir %q: give an absolute path", o.CNIConfDir))
	}
	return errors.Join(errs...)
}

// Agent watches its own Node.
type Agent struct {
	opts   Options
	client kubernetes.Interface
	log    *slog.Logger
}

// New makes an agent; Run starts it.
func New(opts Options, client kubernetes.Interface, log *slog.Logger) *Agent {
	return &Agent{opts: opts, client: client, log: log}
}

// Run keeps the node's configuration in line with its Node object until ctx ends. Informers
// only mark the node dirty; one worker syncs, retrying with back-off on failure.
func (a *Agent) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(a.client, a.opts.Resync,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", a.opts.NodeName).String()
		}))
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
		node, err := nodes.Lister().Get(key)
		if err == nil {
			err = a.sync(node)
		}
		if err != nil {
			a.log.Error("node sync failed; retrying", "err", err)
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

// sync makes the node ready for pods once it has podCIDRs.
func (a *Agent) sync(node *corev1.Node) error {
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
