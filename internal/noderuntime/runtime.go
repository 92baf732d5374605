package noderuntime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// Runtime is one node's runtime: the lab's kubelet.
type Runtime struct {
	opts     Options
	client   kubernetes.Interface
	log      *slog.Logger
	self     string
	shimBin  string
	images   images
	network  *network
	prober   prober
	events   *eventRecorder
	services listersv1.ServiceLister
	host     hostFacts

	mu      sync.Mutex
	workers map[types.UID]*podWorker
}

// New connects to the API server with the node's own credentials.
func New(opts Options, log *slog.Logger) (*Runtime, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", opts.Kubeconfig, err)
	}
	cfg.UserAgent = "weft-node/" + opts.NodeName
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API client: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// weft-shim and weft-cni are installed beside weft.
	shimBin := filepath.Join(filepath.Dir(self), "weft-shim")
	if _, err := os.Stat(shimBin); err != nil {
		return nil, fmt.Errorf("%s is missing: the node runtime starts containers through it; build it with `make build` (or install it beside weft)", shimBin)
	}
	return &Runtime{
		opts: opts, client: client, log: log, self: self, shimBin: shimBin,
		images: images{weftBin: self, cniBin: besideIfExists(self, "weft-cni"), shimBin: shimBin, dir: opts.ImagesDir,
			cert: (&localhostCert{dir: filepath.Join(opts.RootDir, "images")}).paths},
		network: newNetwork(opts.CNIConfDir, cniBinDirs(opts.CNIBinDirs)),
		prober: prober{exec: func(ctx context.Context, argv []string) *exec.Cmd {
			return exec.CommandContext(ctx, argv[0], argv[1:]...)
		}},
		events:  &eventRecorder{client: client, node: opts.NodeName, log: log, seen: map[string]bool{}},
		host:    readHostFacts(),
		workers: map[types.UID]*podWorker{},
	}, nil
}

// Run registers the node, then keeps its Lease and status fresh, serves the kubelet API and
// runs the pods bound to it until ctx ends. Pods keep running when it ends: their shims own them.
func (r *Runtime) Run(ctx context.Context) error {
	reg := &registrar{client: r.client, opts: r.opts, log: r.log, host: r.host}
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
	if err := r.serveKubeletAPI(ctx); err != nil {
		return err
	}
	if r.opts.RunAgent {
		go r.runAgent(ctx)
	}
	return r.runPods(ctx)
}

// runPods watches the pods bound to this node (the Node authorizer allows no other) and the
// services their environment needs, and gives each pod a worker.
func (r *Runtime) runPods(ctx context.Context) error {
	podFactory := informers.NewSharedInformerFactoryWithOptions(r.client, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", r.opts.NodeName).String()
		}))
	factory := informers.NewSharedInformerFactory(r.client, 10*time.Minute)
	r.services = factory.Core().V1().Services().Lister()
	pods := podFactory.Core().V1().Pods().Informer()
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.podChanged(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { r.podChanged(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				r.podGone(ctx, pod)
			}
		},
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	podFactory.Start(ctx.Done())
	if podFactory.WaitForCacheSync(ctx.Done())[reflect.TypeOf(&corev1.Pod{})] {
		r.collectGarbage(ctx, pods)
	}
	<-ctx.Done()
	return nil
}

func (r *Runtime) podChanged(ctx context.Context, pod *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.workers[pod.UID]; ok {
		w.notify(pod)
		return
	}
	if pod.DeletionTimestamp == nil && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed) {
		if _, err := os.Stat(filepath.Join(r.opts.RootDir, "pods", string(pod.UID))); err != nil {
			return // finished before this runtime started, and released
		}
	}
	w := newPodWorker(r, pod)
	r.workers[pod.UID] = w
	go func() {
		w.run(ctx)
		if ctx.Err() == nil {
			r.mu.Lock()
			delete(r.workers, pod.UID)
			r.mu.Unlock()
			r.events.forget(pod)
		}
	}()
}

// collectGarbage frees what pods deleted while no runtime ran left behind. New pods wait on
// r.mu meanwhile, so none is set up between the listing and the GC.
func (r *Runtime) collectGarbage(ctx context.Context, pods cache.SharedIndexInformer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []*corev1.Pod
	for _, obj := range pods.GetStore().List() {
		all = append(all, obj.(*corev1.Pod))
	}
	if err := r.network.gc(ctx, all); err != nil {
		r.log.Error("free what deleted pods left", "err", err)
	}
}

// podGone handles a pod removed without a graceful deletion (kubectl delete --force).
func (r *Runtime) podGone(ctx context.Context, pod *corev1.Pod) {
	r.mu.Lock()
	w, ok := r.workers[pod.UID]
	r.mu.Unlock()
	if !ok {
		return
	}
	gone := pod.DeepCopy()
	if gone.DeletionTimestamp == nil {
		now := metav1.Now()
		zero := int64(0)
		gone.DeletionTimestamp, gone.DeletionGracePeriodSeconds = &now, &zero
	}
	w.notify(gone)
}

// notify hands the worker the newest pod object, replacing one it has not read yet.
func (w *podWorker) notify(pod *corev1.Pod) {
	for {
		select {
		case w.updates <- pod:
			return
		default:
			select {
			case <-w.updates:
			default:
			}
		}
	}
}

func (r *Runtime) worker(namespace, name string) (*podWorker, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.workers {
		if w.namespace == namespace && w.name == name {
			return w, nil
		}
	}
	return nil, fmt.Errorf("pod %s/%s is not on node %s", namespace, name, r.opts.NodeName)
}

func (r *Runtime) nodeIPStrings() []string {
	s := make([]string, len(r.opts.NodeIPs))
	for i, ip := range r.opts.NodeIPs {
		s[i] = ip.String()
	}
	return s
}

func (r *Runtime) clusterDNS() []string {
	if r.opts.ClusterDNS == "" {
		return nil
	}
	return []string{r.opts.ClusterDNS}
}

// allServices is every Service: the environment takes the pod's namespace's services and the
// kubernetes Service in default, and podfiles picks them out.
func (r *Runtime) allServices() []*corev1.Service {
	if r.services == nil {
		return nil
	}
	svcs, _ := r.services.List(labels.Everything())
	return svcs
}
