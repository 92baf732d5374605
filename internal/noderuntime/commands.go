package noderuntime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/podfiles"
	"github.com/weftnet/weft/internal/shim"
)

// containerCommand builds the argv and environment of the container's next instance: the shim
// enters the pod's network namespace, builds the container's root (the node's view, the image's
// files, the volumes) and execs the image's program there.
func (r *Runtime) containerCommand(ctx context.Context, w *podWorker, c *container) ([]string, []string, error) {
	env, err := r.containerEnv(ctx, w.pod, w.ips, c)
	if err != nil {
		return nil, nil, err
	}
	run, err := r.images.run(expandedCommand(c.spec, envMap(env)), w.pod.Name)
	if err != nil {
		return nil, nil, err
	}
	binds, err := w.volumeBinds(c.spec, env)
	if err != nil {
		return nil, nil, err
	}
	dir := c.nextInstanceDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	spec := shim.RootSpec{
		Dir:      filepath.Join(dir, "rootfs"),
		PodFiles: filepath.Join(w.dir, "files"),
		Hide:     []string{r.opts.RootDir},
		Binds:    append(run.files, binds...),
		WorkDir:  c.spec.WorkingDir,
	}
	specPath := filepath.Join(dir, "root.json")
	if err := shim.WriteRootSpec(specPath, spec); err != nil {
		return nil, nil, fmt.Errorf("write the container's root spec: %w", err)
	}
	return append(r.enterPod(w.pod, specPath), run.argv...), env, nil
}

// execArgv is the argv that runs cmd inside a running container, for exec probes and kubectl
// exec: the shim joins the container process's namespaces, so cmd sees the container's own root.
func (r *Runtime) execArgv(c *container, cmd []string) ([]string, error) {
	if len(cmd) == 0 {
		return nil, fmt.Errorf("no command given")
	}
	start, exit := c.current()
	if start == nil || exit != nil {
		return nil, fmt.Errorf("container %q is not running", c.spec.Name)
	}
	argv := []string{r.shimBin, "exec", "--pid", strconv.Itoa(start.PID)}
	if c.spec.WorkingDir != "" {
		argv = append(argv, "--workdir", c.spec.WorkingDir)
	}
	if base := imageBase(c.spec.Image); base == "busybox" || strings.HasPrefix(base, "busybox/") {
		bb, err := busyboxPath()
		if err != nil {
			return nil, err
		}
		return append(append(argv, "--", bb), cmd...), nil
	}
	// Images ship a shell and coreutils; where the node lacks one, busybox stands in for it.
	return append(append(argv, "--busybox-fallback", "--"), cmd...), nil
}

// enterPod is the weft-shim prefix that puts a program into the pod's namespaces and its root.
func (r *Runtime) enterPod(pod *corev1.Pod, specPath string) []string {
	ns := "/proc/self/ns/net" // hostNetwork: stay in the node's namespace
	if !pod.Spec.HostNetwork {
		ns = netns.Path(netnsName(pod))
	}
	hostname, _ := podfiles.KernelHostname(pod, r.opts.ClusterDomain)
	argv := []string{r.shimBin, "enter", "--netns", ns, "--root-spec", specPath, "--hostname", hostname}
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

// expandedCommand is the container with $(NAME) in its command and args replaced from its
// environment, and "$$" turned into "$", as the kubelet does before it starts a container. Specs
// rely on the escape: a shell only sees "$(dig ...)" when the spec says "$$(dig ...)".
func expandedCommand(c *corev1.Container, env map[string]string) *corev1.Container {
	out := *c
	out.Command = expandEach(c.Command, env)
	out.Args = expandEach(c.Args, env)
	return &out
}

func expandEach(args []string, env map[string]string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = podfiles.ExpandVars(a, env)
	}
	return out
}

// envMap indexes NAME=value pairs by name.
func envMap(env []string) map[string]string {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars
}
