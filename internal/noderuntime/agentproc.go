package noderuntime

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// runAgent keeps `weft agent` running beside the runtime on this node, as a DaemonSet would on
// a real cluster: it prepares the node's network (CNI configuration, forwarding).
func (r *Runtime) runAgent(ctx context.Context) {
	kubeconfig := r.opts.AgentKubeconfig
	if kubeconfig == "" {
		kubeconfig = r.opts.Kubeconfig
	}
	backoff := time.Second
	for ctx.Err() == nil {
		args := append([]string{"agent", "--node-name=" + r.opts.NodeName, "--kubeconfig=" + kubeconfig, "--cni-conf-dir=" + r.opts.CNIConfDir, "--backend=" + r.opts.Backend}, r.opts.AgentArgs...)
		cmd := exec.Command(r.self, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		started := time.Now()
		if err := cmd.Start(); err != nil {
			r.log.Error("start weft agent", "err", err)
		} else {
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				r.log.Error("weft agent exited; restarting", "err", err)
			case <-ctx.Done():
				_ = cmd.Process.Signal(syscall.SIGTERM)
				<-done
				return
			}
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
