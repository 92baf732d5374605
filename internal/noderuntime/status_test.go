package noderuntime

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/shim"
)

// A pod with readiness gates is Ready only once every gate's condition is True, and the gate
// conditions another component wrote survive the node runtime's status updates.
func TestReadinessGates(t *testing.T) {
	gate := corev1.PodConditionType("example.com/blue")
	for _, tc := range []struct {
		name      string
		gates     []corev1.PodConditionType
		conds     []corev1.PodCondition
		wantReady corev1.ConditionStatus
		reason    string
	}{
		{"no gates", nil, nil, corev1.ConditionTrue, ""},
		{"gate without its condition", []corev1.PodConditionType{gate}, nil, corev1.ConditionFalse, "ReadinessGatesNotReady"},
		{"gate False", []corev1.PodConditionType{gate}, []corev1.PodCondition{{Type: gate, Status: corev1.ConditionFalse}}, corev1.ConditionFalse, "ReadinessGatesNotReady"},
		{"gate True", []corev1.PodConditionType{gate}, []corev1.PodCondition{{Type: gate, Status: corev1.ConditionTrue}}, corev1.ConditionTrue, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := runningWorker(t)
			for _, g := range tc.gates {
				w.pod.Spec.ReadinessGates = append(w.pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: g})
			}
			w.pod.Status.Conditions = tc.conds
			st := w.status()
			got := map[corev1.PodConditionType]corev1.PodCondition{}
			for _, c := range st.Conditions {
				got[c.Type] = c
			}
			if c := got[corev1.PodReady]; c.Status != tc.wantReady || c.Reason != tc.reason {
				t.Errorf("Ready = %s (%s), want %s (%s)", c.Status, c.Reason, tc.wantReady, tc.reason)
			}
			if c := got[corev1.ContainersReady]; c.Status != corev1.ConditionTrue {
				t.Errorf("ContainersReady = %s: gates say nothing about containers", c.Status)
			}
			for _, c := range tc.conds {
				if got[c.Type].Status != c.Status {
					t.Errorf("condition %s written by another component was dropped or changed: %+v", c.Type, got[c.Type])
				}
			}
		})
	}
}

// runningWorker is a pod with one container whose shim recorded a start and no exit.
func runningWorker(t *testing.T) *podWorker {
	t.Helper()
	dir := t.TempDir()
	spec := &corev1.Container{Name: "app"}
	c := &container{spec: spec, dir: filepath.Join(dir, "app"), started: true, ready: true}
	if err := os.MkdirAll(c.instanceDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := shim.WriteRecord(filepath.Join(c.instanceDir(), shim.StartFile), shim.StartRecord{PID: 1, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rt := &Runtime{opts: Options{NodeIPs: []netip.Addr{netip.MustParseAddr("192.168.1.11")}}}
	return &podWorker{rt: rt, netReady: true, containers: []*container{c},
		pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "0123456789abcdef"}, Spec: corev1.PodSpec{Containers: []corev1.Container{*spec}}}}
}

// A restartable init container (a sidecar) runs beside the app container: the pod is Running
// and Ready with both, and not Ready while the sidecar is not.
func TestSidecarStatus(t *testing.T) {
	w := runningWorker(t)
	always := corev1.ContainerRestartPolicyAlways
	spec := &corev1.Container{Name: "proxy", RestartPolicy: &always}
	side := &container{spec: spec, init: true, dir: filepath.Join(t.TempDir(), "proxy"), started: true, ready: true}
	if err := os.MkdirAll(side.instanceDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := shim.WriteRecord(filepath.Join(side.instanceDir(), shim.StartFile), shim.StartRecord{PID: 1, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	w.containers = append([]*container{side}, w.containers...)
	w.pod.Spec.InitContainers = []corev1.Container{*spec}
	if !side.sidecar() {
		t.Fatal("an init container with restartPolicy Always is a sidecar")
	}
	check := func(phase corev1.PodPhase, ready corev1.ConditionStatus) {
		t.Helper()
		st := w.status()
		if st.Phase != phase {
			t.Errorf("phase %s, want %s", st.Phase, phase)
		}
		for _, c := range st.Conditions {
			if c.Type == corev1.PodReady && c.Status != ready {
				t.Errorf("Ready %s, want %s", c.Status, ready)
			}
			if c.Type == corev1.PodInitialized && c.Status != corev1.ConditionTrue {
				t.Errorf("Initialized %s: a started sidecar has done its part of initialization", c.Status)
			}
		}
		if len(st.InitContainerStatuses) != 1 || len(st.ContainerStatuses) != 1 {
			t.Errorf("statuses: %d init, %d app", len(st.InitContainerStatuses), len(st.ContainerStatuses))
		}
	}
	check(corev1.PodRunning, corev1.ConditionTrue)
	side.ready = false
	check(corev1.PodRunning, corev1.ConditionFalse)
	// The sidecar ended and waits for its restart: the pod stays Running.
	if err := shim.WriteRecord(filepath.Join(side.instanceDir(), shim.ExitFile), shim.ExitRecord{ExitCode: 1, FinishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	check(corev1.PodRunning, corev1.ConditionFalse)
}

// An evicted pod is Failed with the kubelet's reason, whatever its containers' state.
func TestEvictedPodStatus(t *testing.T) {
	w := runningWorker(t)
	w.evicted = `Container app exceeded its local ephemeral storage limit "5Mi". `
	st := w.status()
	if st.Phase != corev1.PodFailed || st.Reason != "Evicted" || st.Message != w.evicted {
		t.Errorf("status %s %q %q, want Failed Evicted", st.Phase, st.Reason, st.Message)
	}
	for _, c := range st.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
			t.Errorf("an evicted pod is Ready")
		}
	}
}

func TestRootUsageMeasuresTheContainersFileSystem(t *testing.T) {
	used, err := rootUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if used <= 0 {
		t.Errorf("the test's own root holds %d bytes", used)
	}
	if _, err := rootUsage(1 << 30); err == nil {
		t.Error("a process that does not exist must be an error")
	}
}
