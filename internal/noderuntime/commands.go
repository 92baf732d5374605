package noderuntime

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/podfiles"
)

// containerCommand builds the argv and environment of a container instance: weft enters the
// pod's namespaces with its files bound in, then execs the image's program.
func (r *Runtime) containerCommand(ctx context.Context, w *podWorker, c *container) ([]string, []string, error) {
	program, err := programFor(c.spec, w.pod.Name, r.self)
	if err != nil {
		return nil, nil, err
	}
	env, err := r.containerEnv(ctx, w.pod, w.ips, c)
	if err != nil {
		return nil, nil, err
	}
	return append(r.enterPod(w.pod, w.dir, c), program...), env, nil
}

// execArgv is the argv that runs cmd inside a running container, for exec probes and kubectl exec.
func (r *Runtime) execArgv(pod *corev1.Pod, podDir string, c *container, cmd []string) ([]string, error) {
	if len(cmd) == 0 {
		return nil, fmt.Errorf("no command given")
	}
	var program []string
	if base := imageBase(c.spec.Image); base == "busybox" || strings.HasPrefix(base, "busybox/") {
		bb, err := busyboxPath()
		if err != nil {
			return nil, err
		}
		program = append([]string{bb}, cmd...)
	} else if path, err := lookPath(cmd[0]); err == nil {
		program = append([]string{path}, cmd[1:]...)
	} else if bb, bbErr := busyboxPath(); bbErr == nil {
		// Images ship a shell and coreutils; on the node busybox stands in for them.
		program = append([]string{bb}, cmd...)
	} else {
		return nil, err
	}
	return append(r.enterPod(pod, podDir, c), program...), nil
}

// enterPod is the weft-shim prefix that puts a program into the pod's namespaces.
func (r *Runtime) enterPod(pod *corev1.Pod, podDir string, c *container) []string {
	ns := "/proc/self/ns/net" // hostNetwork: stay in the node's namespace
	if !pod.Spec.HostNetwork {
		ns = netns.Path(netnsName(pod))
	}
	hostname, _ := podfiles.KernelHostname(pod, r.opts.ClusterDomain)
	argv := []string{r.shimBin, "enter", "--netns", ns,
		"--pod-files", filepath.Join(podDir, "files"), "--hostname", hostname}
	if c.spec.WorkingDir != "" {
		argv = append(argv, "--workdir", c.spec.WorkingDir)
	}
	if pod.Spec.HostNetwork {
		argv = append(argv, "--host-network")
	}
	return append(argv, "--")
}

// containerEnv is the kubelet's environment for the container plus what an image would set.
func (r *Runtime) containerEnv(ctx context.Context, pod *corev1.Pod, ips []string, c *container) ([]string, error) {
	vars, err := podfiles.ContainerEnv(pod, c.spec, r.allServices(), apiSources{ctx: ctx, r: r},
		podfiles.PodFacts{PodIPs: ips, HostIPs: r.nodeIPStrings()}, r.host.capacity())
	if err != nil {
		return nil, err
	}
	hostname, _ := podfiles.KernelHostname(pod, r.opts.ClusterDomain)
	env := []string{"PATH=" + defaultPath, "HOSTNAME=" + hostname}
	for _, v := range vars {
		env = append(env, v.Name+"="+v.Value)
	}
	return env, nil
}

// apiSources reads ConfigMaps and Secrets for env and envFrom; the Node authorizer lets a node
// read only those its pods reference.
type apiSources struct {
	ctx context.Context
	r   *Runtime
}

func (s apiSources) ConfigMap(namespace, name string) (*corev1.ConfigMap, error) {
	return s.r.client.CoreV1().ConfigMaps(namespace).Get(s.ctx, name, metav1.GetOptions{})
}

func (s apiSources) Secret(namespace, name string) (*corev1.Secret, error) {
	return s.r.client.CoreV1().Secrets(namespace).Get(s.ctx, name, metav1.GetOptions{})
}
