package noderuntime

import (
	"fmt"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// storageCheckInterval is how often a container's ephemeral storage is measured against its
// limit (the kubelet's housekeeping runs every 10 s; the lab measures a cheap statfs more often).
const storageCheckInterval = 2 * time.Second

// checkEphemeralStorage evicts the pod, as the kubelet does, once a container writes more to its
// own root than its ephemeral-storage limit allows. A container's writes all land in its scratch
// tmpfs (the root and its overlays' upper layers), so one statfs of its root measures them.
func (w *podWorker) checkEphemeralStorage(now time.Time) {
	if w.evicted != "" || now.Before(w.nextStorageCheck) {
		return
	}
	w.nextStorageCheck = now.Add(storageCheckInterval)
	for _, c := range w.containers {
		limit, ok := c.spec.Resources.Limits[corev1.ResourceEphemeralStorage]
		if !ok {
			continue
		}
		start, exit := c.current()
		if start == nil || exit != nil {
			continue
		}
		used, err := rootUsage(start.PID)
		if err != nil {
			w.rt.log.Info("measure ephemeral storage", "pod", key(w.pod), "container", c.spec.Name, "err", err)
			continue
		}
		if used > limit.Value() {
			w.evict(fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q. ", c.spec.Name, limit.String()))
			return
		}
	}
}

// evict stops every container for good; status then reports the pod Failed with reason Evicted.
func (w *podWorker) evict(message string) {
	w.evicted = message
	w.rt.events.record(w.pod, corev1.EventTypeWarning, "Evicted", message)
	for _, c := range w.containers {
		c.signal(syscall.SIGKILL)
	}
	// The status says Failed only once every container's end is recorded.
	for i := 0; i < 50 && w.anyRunning(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// rootUsage is how many bytes a container has written to its own root's file system.
func rootUsage(pid int) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc/"+strconv.Itoa(pid)+"/root", &st); err != nil {
		return 0, fmt.Errorf("statfs of the container's root: %w", err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, nil
}
