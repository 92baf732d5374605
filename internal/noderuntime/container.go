package noderuntime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/shim"
)

// container is one container of a pod, across its restarts.
type container struct {
	spec     *corev1.Container
	init     bool
	dir      string // <pod dir>/containers/<name>
	logDir   string // /var/log/pods/<ns>_<pod>_<uid>/<name>
	restarts int    // instance number of the current run; its records live in dir/<restarts>
	started  bool   // an instance has been started (or adopted)
	ready    bool
	live     probeState
	readyPr  probeState
	last     *shim.ExitRecord // previous instance's end, for lastState
	backoff  time.Duration
	nextTry  time.Time
	waiting  *corev1.ContainerStateWaiting

	// mu guards restarts, started and last against the kubelet API's goroutines; the pod
	// worker is their only writer.
	mu sync.Mutex
}

// sidecar tells whether this is a restartable init container (restartPolicy Always): it starts
// in init order, the next one starts once it runs, and it keeps running beside the app
// containers, restarted whenever it ends.
func (c *container) sidecar() bool {
	return c.init && c.spec.RestartPolicy != nil && *c.spec.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// instance is the current instance number and whether one was started, for other goroutines.
func (c *container) instance() (n int, started bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts, c.started
}

func (c *container) instanceDir() string {
	n, _ := c.instance()
	return filepath.Join(c.dir, strconv.Itoa(n))
}

// nextInstanceDir is where the instance that start launches next keeps its records and root.
func (c *container) nextInstanceDir() string {
	n, started := c.instance()
	if started {
		n++
	}
	return filepath.Join(c.dir, strconv.Itoa(n))
}

// LogPath is the CRI log file of an instance, in the kubelet's layout.
func (c *container) logPath(instance int) string {
	return filepath.Join(c.logDir, strconv.Itoa(instance)+".log")
}

// current reads the running instance's records.
func (c *container) current() (start *shim.StartRecord, exit *shim.ExitRecord) {
	var s shim.StartRecord
	var e shim.ExitRecord
	if shim.ReadRecord(filepath.Join(c.instanceDir(), shim.StartFile), &s) {
		start = &s
	}
	if shim.ReadRecord(filepath.Join(c.instanceDir(), shim.ExitFile), &e) {
		exit = &e
	}
	return start, exit
}

// running tells whether the current instance is starting or alive: until its shim records an
// exit, it counts as running, so a slow start is never mistaken for a death.
func (c *container) running() bool {
	if _, started := c.instance(); !started {
		return false
	}
	_, exit := c.current()
	return exit == nil
}

// exited reports the current instance's end, if it has ended.
func (c *container) exited() *shim.ExitRecord {
	if _, started := c.instance(); !started {
		return nil
	}
	_, exit := c.current()
	return exit
}

// start launches a new instance through a shim.
func (c *container) start(argv []string, env []string, shimBin string) error {
	if c.started {
		exit := c.exited()
		c.mu.Lock()
		if exit != nil {
			c.last = exit
		}
		c.restarts++
		c.mu.Unlock()
	}
	if err := os.MkdirAll(c.instanceDir(), 0o755); err != nil {
		return err
	}
	proc := exec.Command(shimBin, append([]string{"run", "--dir", c.instanceDir(), "--log", c.logPath(c.restarts), "--"}, argv...)...)
	proc.Env = env
	// Its own session: the shim and its container survive a restart of the node runtime.
	proc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := proc.Start(); err != nil {
		return fmt.Errorf("start container %s: %w", c.spec.Name, err)
	}
	go func() { _ = proc.Wait() }() // reap; the records say how the container ended
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	c.ready = false
	c.live, c.readyPr = probeState{}, probeState{}
	// Wait briefly for the start record so status reflects reality at once.
	for i := 0; i < 50; i++ {
		if s, e := c.current(); s != nil || e != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// signal sends sig to the current instance's process group.
func (c *container) signal(sig syscall.Signal) {
	if start, exit := c.current(); start != nil && exit == nil {
		_ = syscall.Kill(-start.PID, sig)
		_ = syscall.Kill(start.PID, sig)
	}
}

// adopt finds the newest instance left by a previous runtime.
func (c *container) adopt() {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	newest := -1
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n > newest {
			newest = n
		}
	}
	if newest < 0 {
		return
	}
	var prev *shim.ExitRecord
	if newest > 0 {
		var rec shim.ExitRecord
		if shim.ReadRecord(filepath.Join(c.dir, strconv.Itoa(newest-1), shim.ExitFile), &rec) {
			prev = &rec
		}
	}
	c.mu.Lock()
	c.restarts, c.started, c.last = newest, true, prev
	c.mu.Unlock()
	if start, exit := c.current(); start != nil && exit == nil && !processAlive(start.PID) {
		// The node went away under it: record it as killed.
		_ = shim.WriteRecord(filepath.Join(c.instanceDir(), shim.ExitFile), shim.ExitRecord{ExitCode: 137, Reason: "Error", Message: "process vanished while the node runtime was down", FinishedAt: time.Now()})
	}
}

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// status is the container's ContainerStatus as the kubelet reports it.
func (c *container) status(podUID string) corev1.ContainerStatus {
	st := corev1.ContainerStatus{
		Name:         c.spec.Name,
		Image:        c.spec.Image,
		ImageID:      "weft://" + imageBase(c.spec.Image),
		RestartCount: int32(c.restarts),
		Ready:        c.ready,
	}
	if c.last != nil {
		st.LastTerminationState = corev1.ContainerState{Terminated: terminated(c.last, nil)}
	}
	start, exit := c.current()
	switch {
	case !c.started || (start == nil && exit == nil):
		w := c.waiting
		if w == nil {
			w = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		st.State.Waiting = w
	case exit != nil && c.waiting != nil:
		// Ended and waiting for its restart back-off.
		st.State.Waiting = c.waiting
		st.LastTerminationState = corev1.ContainerState{Terminated: terminated(exit, start)}
	case exit != nil:
		st.State.Terminated = terminated(exit, start)
	default:
		st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(start.StartedAt)}
		started := true
		st.Started = &started
	}
	if c.started {
		st.ContainerID = "weft://" + podUID[:8] + "-" + c.spec.Name + "-" + strconv.Itoa(c.restarts)
	}
	return st
}

func terminated(e *shim.ExitRecord, s *shim.StartRecord) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{
		ExitCode:   int32(e.ExitCode),
		Reason:     e.Reason,
		Message:    e.Message,
		FinishedAt: metav1.NewTime(e.FinishedAt),
	}
	if s != nil {
		t.StartedAt = metav1.NewTime(s.StartedAt)
	}
	return t
}
