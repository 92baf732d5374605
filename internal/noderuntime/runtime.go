package noderuntime

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// Runtime is one node's runtime.
type Runtime struct {
	opts   Options
	client kubernetes.Interface
	log    *slog.Logger
}

// New connects to the API server with the node's own credentials.
func New(opts Options, log *slog.Logger) (*Runtime, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", opts.Kubeconfig, err)
	}
	cfg.UserAgent = "weft-node/" + opts.NodeName
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API client: %w", err)
	}
	return &Runtime{opts: opts, client: client, log: log}, nil
}

// Run registers the node, then keeps its Lease and status fresh and watches its pods until ctx ends.
func (r *Runtime) Run(ctx context.Context) error {
	reg := &registrar{client: r.client, opts: r.opts, log: r.log, host: readHostFacts()}
	// The API server may still be starting: retry registration until it answers.
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := reg.register(ctx); err != nil {
			r.log.Info("waiting to register the node", "err", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("register Node %s: %w", r.opts.NodeName, err)
	}
	r.log.Info("node registered", "node", r.opts.NodeName, "ips", r.opts.NodeIPs)

	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := reg.renewLease(ctx); err != nil {
			r.log.Error("lease", "err", err)
		}
	}, r.opts.LeaseDuration/4)
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := reg.updateStatus(ctx); err != nil {
			r.log.Error("node status", "err", err)
		}
	}, r.opts.StatusPeriod)

	r.watchPods(ctx)
	<-ctx.Done()
	return nil
}

// watchPods watches only the pods bound to this node, as the Node authorizer requires.
func (r *Runtime) watchPods(ctx context.Context) {
	factory := informers.NewSharedInformerFactoryWithOptions(r.client, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", r.opts.NodeName).String()
		}))
	notifier := &podNotifier{client: r.client, node: r.opts.NodeName, log: r.log, told: map[types.UID]bool{}}
	_, _ = factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { notifier.observe(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { notifier.observe(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				notifier.forget(pod)
			}
		},
	})
	factory.Start(ctx.Done())
}
