package noderuntime

import (
	"context"
	"fmt"
	"io"
	"os/exec"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/weftnet/weft/internal/kubeletapi"
)

// serveKubeletAPI starts the kubelet API (logs, exec) when the node has a serving certificate.
func (r *Runtime) serveKubeletAPI(ctx context.Context) error {
	if r.opts.KubeletAPI.CertFile == "" {
		r.log.Info("no --tls-cert-file: kubectl logs and exec are not served on this node")
		return nil
	}
	srv, err := kubeletapi.New(r.opts.KubeletAPI, kubeletPods{r}, r.log)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	go func() {
		if err := srv.Run(ctx); err != nil {
			r.log.Error("kubelet API", "err", err)
		}
	}()
	return nil
}

// kubeletPods answers the kubelet API from the runtime's pod workers.
type kubeletPods struct{ r *Runtime }

func (k kubeletPods) find(namespace, pod, name string) (*podWorker, *container, error) {
	w, err := k.r.worker(namespace, pod)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", kubeletapi.ErrNotFound, err)
	}
	for _, c := range w.containers {
		if c.spec.Name == name || (name == "" && !c.init) {
			return w, c, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: container %q is not in pod %s/%s", kubeletapi.ErrNotFound, name, namespace, pod)
}

func (k kubeletPods) LogPath(namespace, pod, name string, previous bool) (string, error) {
	_, c, err := k.find(namespace, pod, name)
	if err != nil {
		return "", err
	}
	instance, started := c.instance()
	if !started {
		return "", fmt.Errorf("%w: container %q in pod %q is waiting to start", kubeletapi.ErrNotFound, name, pod)
	}
	if previous {
		if instance == 0 {
			return "", fmt.Errorf("%w: previous terminated container %q in pod %q not found", kubeletapi.ErrNotFound, name, pod)
		}
		instance--
	}
	return c.logPath(instance), nil
}

func (k kubeletPods) ContainerExited(namespace, pod, name string) bool {
	_, c, err := k.find(namespace, pod, name)
	return err != nil || c.exited() != nil
}

func (k kubeletPods) Exec(ctx context.Context, namespace, pod, name string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	w, c, err := k.find(namespace, pod, name)
	if err != nil {
		return err
	}
	if !c.running() {
		return fmt.Errorf("container %q in pod %q is not running", name, pod)
	}
	podObj, ips := w.view()
	argv, err := k.r.execArgv(c, cmd)
	if err != nil {
		return err
	}
	env, err := k.r.containerEnv(ctx, podObj, ips, c)
	if err != nil {
		return err
	}
	proc := exec.CommandContext(ctx, argv[0], argv[1:]...)
	proc.Env = env
	if !tty {
		proc.Stdin, proc.Stdout, proc.Stderr = stdin, stdout, stderr
		return proc.Run()
	}
	ptmx, err := pty.Start(proc)
	if err != nil {
		return fmt.Errorf("start %v with a terminal: %w", cmd, err)
	}
	defer ptmx.Close()
	go func() {
		for size := range resize {
			_ = pty.Setsize(ptmx, &pty.Winsize{Rows: size.Height, Cols: size.Width})
		}
	}()
	if stdin != nil {
		go func() { _, _ = io.Copy(ptmx, stdin) }()
	}
	_, _ = io.Copy(stdout, ptmx) // ends with EIO when the process exits
	return proc.Wait()
}
