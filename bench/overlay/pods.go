package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/weftnet/weft/internal/netns"
)

// pod is a benchmark pod: busybox sleeping, pinned to a node, found in the kernel by findPod.
type pod struct {
	name, node, ip string
	ns             string // /proc/PID/ns/net of its container
	mtu            int
}

func createPod(ctx context.Context, c kubernetes.Interface, p pod, timeout time.Duration) error {
	grace := int64(0)
	obj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.name},
		Spec: corev1.PodSpec{NodeName: p.node, TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "86400"}}}},
	}
	deadline := time.Now().Add(timeout)
	for {
		// Right after start-up the API server may not have made the default namespace yet.
		_, err := c.CoreV1().Pods("default").Create(ctx, obj, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) { // the name is ours alone: an earlier try got through
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("create pod %s: %w", p.name, err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// podName is unique per run, so a pod left by an earlier run (in a lab kept running) is no obstacle.
func podName(base string) string { return fmt.Sprintf("%s-%d", base, time.Now().UnixMilli()%1000000) }

func deletePod(c kubernetes.Interface, name string) {
	grace := int64(0)
	_ = c.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
}

// findPod waits for the pod's IP and, with withNS, for its network namespace.
func findPod(ctx context.Context, t *timeline, timeout time.Duration, p *pod, withNS bool) error {
	if _, err := t.wait(ctx, "ip:"+p.name, timeout); err != nil {
		return err
	}
	p.ip = t.ip(p.name)
	if !withNS {
		return nil
	}
	var err error
	p.ns, p.mtu, err = findNetNS(ctx, p.name, p.ip, timeout)
	return err
}

// findNetNS finds a pod's network namespace from the host, without relying on the node
// runtime's layout: the lab runs containers as host processes that carry HOSTNAME=<pod name>
// in their environment; of those, the one whose namespace holds the pod's IP is the pod's.
// Checking the IP keeps a same-named pod of another lab from being taken.
func findNetNS(ctx context.Context, name, ip string, timeout time.Duration) (string, int, error) {
	want := []byte("\x00HOSTNAME=" + name + "\x00")
	deadline := time.Now().Add(timeout)
	for {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil || !bytes.Contains(append([]byte{0}, env...), want) {
				continue
			}
			nsPath := "/proc/" + e.Name() + "/ns/net"
			if mtu, ok := hasAddr(nsPath, ip); ok {
				return nsPath, mtu, nil
			}
		}
		if time.Now().After(deadline) {
			return "", 0, fmt.Errorf("no process of pod %s in a namespace holding %s", name, ip)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return "", 0, err
		}
	}
}

// hasAddr tells whether the namespace has ip on an interface, and that interface's MTU.
func hasAddr(nsPath, ip string) (mtu int, found bool) {
	_ = netns.Do(nsPath, func() error {
		ifaces, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, i := range ifaces {
			addrs, _ := i.Addrs()
			for _, a := range addrs {
				if strings.HasPrefix(a.String(), ip+"/") {
					mtu, found = i.MTU, true
				}
			}
		}
		return nil
	})
	return mtu, found
}
