package noderuntime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/podfiles"
	"github.com/weftnet/weft/internal/shim"
)

// Restart back-off, as the kubelet's: 10 s doubling to 5 min, reset after 10 min of good running.
const (
	initialBackoff = 10 * time.Second
	maxBackoff     = 5 * time.Minute
)

// podWorker owns one pod: its sandbox, files, containers, probes and status.
type podWorker struct {
	rt        *Runtime
	namespace string // immutable for the pod's UID, read by the kubelet API
	name      string
	// mu guards pod and ips against the kubelet API's goroutines; the worker goroutine is their
	// only writer and reads them without it.
	mu         sync.Mutex
	pod        *corev1.Pod // the latest object from the API server
	dir        string      // /var/lib/weft-node/pods/<uid>
	ips        []string
	netReady   bool
	volsReady  bool         // volumes set up (again, after an adoption) for this worker
	volsRetry  time.Time    // when to try the volumes again after a failure
	containers []*container // init containers first
	terminal   bool         // phase Succeeded or Failed: nothing runs any more
	// evicted is the kubelet's eviction message once the pod was evicted (ephemeral storage).
	evicted          string
	nextStorageCheck time.Time
	lastStatus       *corev1.PodStatus
	updates          chan *corev1.Pod
}

func newPodWorker(rt *Runtime, pod *corev1.Pod) *podWorker {
	w := &podWorker{rt: rt, namespace: pod.Namespace, name: pod.Name, pod: pod, dir: filepath.Join(rt.opts.RootDir, "pods", string(pod.UID)), updates: make(chan *corev1.Pod, 8)}
	logDir := filepath.Join(rt.opts.LogDir, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
	add := func(c *corev1.Container, init bool) {
		w.containers = append(w.containers, &container{
			spec: c, init: init,
			dir:    filepath.Join(w.dir, "containers", c.Name),
			logDir: filepath.Join(logDir, c.Name),
		})
	}
	for i := range pod.Spec.InitContainers {
		add(&pod.Spec.InitContainers[i], true)
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i], false)
	}
	return w
}

// run drives the pod until it is deleted.
func (w *podWorker) run(ctx context.Context) {
	w.adopt(ctx)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if w.pod.DeletionTimestamp != nil {
			w.terminate(ctx)
			return
		}
		w.step(ctx)
		select {
		case <-ctx.Done():
			return // the runtime stops; containers keep running under their shims
		case p := <-w.updates:
			w.setPod(p)
		case <-tick.C:
		}
	}
}

// adopt picks up what a previous runtime left: the sandbox's addresses and the containers' instances.
func (w *podWorker) adopt(ctx context.Context) {
	if _, err := os.Stat(w.dir); err != nil {
		return
	}
	for _, c := range w.containers {
		c.adopt()
	}
	if w.pod.Spec.HostNetwork {
		w.netReady = true
		return
	}
	if ips, err := w.rt.network.status(w.pod); err == nil {
		if _, err := os.Stat(netns.Path(netnsName(w.pod))); err == nil {
			w.setIPs(ips)
			w.netReady = true
		}
	}
}

// step moves the pod one step forward and publishes its status when it changed.
func (w *podWorker) step(ctx context.Context) {
	if !w.terminal {
		if !w.netReady {
			if err := w.setUpSandbox(ctx); err != nil {
				w.rt.events.warnOnce(w.pod, "FailedCreatePodSandBox", err.Error())
				w.publish(ctx)
				return
			}
		}
		if !w.volsReady {
			if time.Now().Before(w.volsRetry) {
				w.publish(ctx)
				return
			}
			if err := w.setUpVolumes(ctx); err != nil {
				// A missing ConfigMap or Secret may come: try again, without asking the API
				// server on every tick.
				w.volsRetry = time.Now().Add(2 * time.Second)
				w.rt.events.warnOnce(w.pod, "FailedMount", err.Error())
				w.publish(ctx)
				return
			}
			w.volsReady = true
		}
		w.runContainers(ctx)
	}
	w.publish(ctx)
	if !w.terminal && isTerminal(w.lastStatus) {
		// The kubelet releases a finished pod's sandbox (and so its address); status keeps the IPs.
		w.terminal = true
		// Sidecars outlive nothing: once the app containers are done, they are stopped.
		for _, c := range w.containers {
			if c.sidecar() && c.running() {
				c.signal(syscall.SIGTERM)
			}
		}
		if !w.pod.Spec.HostNetwork {
			if err := w.rt.network.tearDown(ctx, w.pod); err != nil {
				w.rt.log.Error("release finished pod's network", "pod", key(w.pod), "err", err)
			}
		}
	}
}

func (w *podWorker) setUpSandbox(ctx context.Context) error {
	if !w.pod.Spec.HostNetwork {
		ips, err := w.rt.network.setUp(ctx, w.pod)
		if err != nil {
			return err
		}
		w.setIPs(ips)
	} else {
		w.setIPs(w.rt.nodeIPStrings())
	}
	if err := w.writeFiles(); err != nil {
		return err
	}
	w.netReady = true
	return nil
}

// writeFiles renders /etc/hosts, /etc/hostname and /etc/resolv.conf for the pod.
func (w *podWorker) writeFiles() error {
	files := filepath.Join(w.dir, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		return err
	}
	domain := w.rt.opts.ClusterDomain
	var hosts []byte
	var err error
	if w.pod.Spec.HostNetwork {
		nodeHosts, _ := os.ReadFile("/etc/hosts")
		hosts = podfiles.HostNetworkHostsFile(nodeHosts, w.pod)
	} else if hosts, err = podfiles.HostsFile(w.pod, w.ips, domain); err != nil {
		return err
	}
	hostname, err := podfiles.KernelHostname(w.pod, domain)
	if err != nil {
		return err
	}
	if w.pod.Spec.HostNetwork {
		hostname, _ = os.Hostname()
	}
	nodeResolv, _ := os.ReadFile("/etc/resolv.conf")
	resolv, err := podfiles.ResolvConf(w.pod, w.rt.clusterDNS(), domain, nodeResolv)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"hosts": hosts, "hostname": []byte(hostname + "\n"), "resolv.conf": resolv} {
		if err := os.WriteFile(filepath.Join(files, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runContainers runs init containers one at a time to completion, then all containers,
// restarting them as restartPolicy says, and runs their probes.
func (w *podWorker) runContainers(ctx context.Context) {
	now := time.Now()
	if w.checkEphemeralStorage(now); w.evicted != "" {
		return // an evicted pod's containers never start again
	}
	for _, c := range w.containers {
		if c.sidecar() {
			w.ensure(ctx, c, now)
			w.probe(ctx, c, now)
			if !c.running() {
				return // the next init container, or the app containers, wait for it to start
			}
			continue
		}
		if c.init {
			if exit := c.exited(); exit != nil && exit.ExitCode == 0 {
				continue // done
			}
			w.ensure(ctx, c, now)
			return // the next init container, or the app containers, wait for this one
		}
	}
	for _, c := range w.containers {
		if !c.init {
			w.ensure(ctx, c, now)
			w.probe(ctx, c, now)
		}
	}
}

// ensure starts a container that has not run, or restarts one that ended, per restartPolicy.
func (w *podWorker) ensure(ctx context.Context, c *container, now time.Time) {
	if c.running() {
		return
	}
	if exit := c.exited(); exit != nil {
		if !w.shouldRestart(c, exit) {
			c.waiting = nil
			return
		}
		if c.nextTry.IsZero() {
			if start, _ := c.current(); start != nil && exit.FinishedAt.Sub(start.StartedAt) > 10*time.Minute {
				c.backoff = 0
			}
			c.backoff = min(max(2*c.backoff, initialBackoff), maxBackoff)
			c.nextTry = exit.FinishedAt.Add(c.backoff)
			if c.restarts > 0 {
				w.rt.events.record(w.pod, corev1.EventTypeWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s", c.spec.Name, w.pod.Name))
			}
		}
		if now.Before(c.nextTry) {
			c.waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", c.backoff, c.spec.Name, w.pod.Name)}
			return
		}
	}
	c.nextTry = time.Time{}
	argv, env, err := w.rt.containerCommand(ctx, w, c)
	if err != nil {
		reason := "CreateContainerConfigError"
		if errors.Is(err, ErrCommandNotFound) {
			reason = "RunContainerError"
		}
		c.waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}
		w.rt.events.warnOnce(w.pod, "Failed", fmt.Sprintf("Error: %s", err))
		return
	}
	c.waiting = nil
	if err := c.start(argv, env, w.rt.shimBin); err != nil {
		c.waiting = &corev1.ContainerStateWaiting{Reason: "StartError", Message: err.Error()}
		return
	}
	w.rt.events.record(w.pod, corev1.EventTypeNormal, "Started", "Started container "+c.spec.Name)
}

func (w *podWorker) shouldRestart(c *container, exit *shim.ExitRecord) bool {
	if c.sidecar() {
		return true
	}
	if c.init {
		return exit.ExitCode != 0 && w.pod.Spec.RestartPolicy != corev1.RestartPolicyNever
	}
	switch w.pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exit.ExitCode != 0
	}
	return true
}

// probe runs readiness and liveness probes that are due; a failed liveness probe kills the
// container, which then restarts as its restartPolicy says.
func (w *podWorker) probe(ctx context.Context, c *container, now time.Time) {
	if w.probeLiveness(ctx, c, now) {
		w.probeReadiness(ctx, c, now)
	}
}

// probeLiveness runs a due liveness probe; it reports false when the container is not running
// or was just killed for failing it.
func (w *podWorker) probeLiveness(ctx context.Context, c *container, now time.Time) bool {
	start, exit := c.current()
	if start == nil || exit != nil {
		c.ready = false
		return false
	}
	if p := c.spec.LivenessProbe; p != nil && c.live.due(p, start.StartedAt, now) {
		ok, msg := w.rt.prober.probe(ctx, p, c.spec, w.podIP(), w.execIn(c))
		c.live.record(p, ok, now)
		if c.live.decided && !c.live.result {
			w.rt.events.record(w.pod, corev1.EventTypeWarning, "Unhealthy", "Liveness probe failed: "+msg)
			w.rt.events.record(w.pod, corev1.EventTypeNormal, "Killing", fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.spec.Name))
			c.signal(syscall.SIGKILL)
			return false
		}
	}
	return true
}

// probeReadiness runs a due readiness probe and sets the container's readiness from it.
func (w *podWorker) probeReadiness(ctx context.Context, c *container, now time.Time) {
	start, exit := c.current()
	if start == nil || exit != nil {
		c.ready = false
		return
	}
	p := c.spec.ReadinessProbe
	if p == nil {
		c.ready = true
		return
	}
	if c.readyPr.due(p, start.StartedAt, now) {
		ok, msg := w.rt.prober.probe(ctx, p, c.spec, w.podIP(), w.execIn(c))
		c.readyPr.record(p, ok, now)
		if !ok {
			w.rt.events.warnOnce(w.pod, "Unhealthy", "Readiness probe failed: "+msg)
		}
	}
	c.ready = c.readyPr.decided && c.readyPr.result
}

func (w *podWorker) podIP() string {
	if len(w.ips) > 0 {
		return w.ips[0]
	}
	return ""
}

// execIn builds the argv of a command run inside c, for exec probes and hooks.
func (w *podWorker) execIn(c *container) func([]string) ([]string, error) {
	return func(cmd []string) ([]string, error) { return w.rt.execArgv(c, cmd) }
}

// terminate stops a pod being deleted: SIGTERM, the grace period, SIGKILL, CNI DEL; then it
// removes the pod from the API server, as the kubelet does once everything is gone.
func (w *podWorker) terminate(ctx context.Context) {
	grace := 30 * time.Second
	if g := w.pod.DeletionGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	deadline := time.Now().Add(grace)
	w.runPreStopHooks(ctx, deadline)
	for _, c := range w.containers {
		if c.running() {
			w.rt.events.record(w.pod, corev1.EventTypeNormal, "Killing", "Stopping container "+c.spec.Name)
			c.signal(syscall.SIGTERM)
		}
	}
	for w.anyRunning() && time.Now().Before(deadline) {
		// Readiness is still probed while the pod terminates, as the kubelet does: a server that
		// fails its readiness on SIGTERM leaves its Services' ready endpoints while it drains.
		now := time.Now()
		for _, c := range w.containers {
			if c.running() {
				w.probeReadiness(ctx, c, now)
			}
		}
		w.publish(ctx)
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range w.containers {
		c.signal(syscall.SIGKILL)
	}
	for i := 0; i < 50 && w.anyRunning(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if !w.pod.Spec.HostNetwork {
		if err := w.rt.network.tearDown(ctx, w.pod); err != nil {
			w.rt.log.Error("tear down pod network", "pod", key(w.pod), "err", err)
		}
	}
	if err := w.tearDownVolumes(); err != nil {
		w.rt.log.Error("unmount pod volumes", "pod", key(w.pod), "err", err)
	}
	if err := os.RemoveAll(w.dir); err != nil {
		w.rt.log.Error("remove pod directory", "pod", key(w.pod), "err", err)
	}
	for _, c := range w.containers {
		_ = os.RemoveAll(filepath.Dir(c.logDir)) // the pod's log directory, as the kubelet cleans it
	}
	zero := int64(0)
	err := w.rt.client.CoreV1().Pods(w.pod.Namespace).Delete(ctx, w.pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &w.pod.UID},
	})
	if err != nil {
		w.rt.log.Info("final pod delete", "pod", key(w.pod), "err", err)
	}
}

func (w *podWorker) anyRunning() bool {
	for _, c := range w.containers {
		if c.running() {
			return true
		}
	}
	return false
}

func (w *podWorker) setPod(p *corev1.Pod) {
	w.mu.Lock()
	w.pod = p
	w.mu.Unlock()
}

func (w *podWorker) setIPs(ips []string) {
	w.mu.Lock()
	w.ips = ips
	w.mu.Unlock()
}

// view is the pod and its addresses for goroutines other than the worker's.
func (w *podWorker) view() (*corev1.Pod, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.ips
}

func key(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
