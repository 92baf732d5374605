package kubeletapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	osexec "os/exec"
	"strconv"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rcconst "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"
)

// serveExec runs a command for `kubectl exec`. The API server reaches it over SPDY (it translates
// kubectl's WebSocket unless the Node declares the ExtendWebSocketsToKubelet feature); WebSocket
// clients that speak v5.channel.k8s.io are served directly, older WebSocket protocols by the
// library as the container runtimes do.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	ns, pod, ctr, err := containerRef(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "no command given: pass command=... once per argument", http.StatusBadRequest)
		return
	}
	s.log.Info("exec", "user", requestUser(r), "namespace", ns, "pod", pod, "container", ctr, "command", cmd, "tty", opts.TTY)
	target := execTarget{pods: s.pods, namespace: ns}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		s.serveExecV5(w, r, target, pod, ctr, cmd, opts)
		return
	}
	remotecommand.ServeExec(w, r, target, pod, "", ctr, cmd, opts,
		s.cfg.StreamIdleTimeout, s.cfg.StreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// execTarget adapts Pods to the streaming library's Executor for one namespace.
type execTarget struct {
	pods      Pods
	namespace string
}

func (e execTarget) ExecInContainer(ctx context.Context, pod, _ string, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	return exitError(e.pods.Exec(ctx, e.namespace, pod, container, cmd, stdin, stdout, stderr, tty, resize))
}

// exitError gives a command's exit the shape the streaming library reports as an exit code: it
// checks for utilexec.ExitError by type assertion, not through wrapping.
func exitError(err error) error {
	if err == nil {
		return nil
	}
	var exit utilexec.ExitError
	if errors.As(err, &exit) {
		return exit
	}
	var osExit *osexec.ExitError
	if !errors.As(err, &osExit) {
		return err
	}
	// A signalled process has no exit status; report it as shells and runtimes do, 128+signal.
	if ws, ok := osExit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return utilexec.CodeExitError{Err: err, Code: 128 + int(ws.Signal())}
	}
	return utilexec.ExitErrorWrapper{ExitError: osExit}
}

// statusWriteTimeout bounds sending the final status of a WebSocket session.
const statusWriteTimeout = 10 * time.Second

// serveExecV5 serves the WebSocket protocol v5.channel.k8s.io, which client-go's WebSocket
// executor (and the API server, when it proxies instead of translating) speaks. Unlike the older
// WebSocket protocols it can close stdin, so `echo x | kubectl exec -i ... cat` ends.
func (s *Server) serveExecV5(w http.ResponseWriter, r *http.Request, target execTarget, pod, ctr string, cmd []string, opts *remotecommand.Options) {
	channelIf := func(on bool, t wsstream.ChannelType) wsstream.ChannelType {
		if on {
			return t
		}
		return wsstream.IgnoreChannel
	}
	channels := make([]wsstream.ChannelType, rcconst.StreamResize+1)
	channels[rcconst.StreamStdIn] = channelIf(opts.Stdin, wsstream.ReadChannel)
	channels[rcconst.StreamStdOut] = channelIf(opts.Stdout, wsstream.WriteChannel)
	channels[rcconst.StreamStdErr] = channelIf(opts.Stderr, wsstream.WriteChannel)
	channels[rcconst.StreamErr] = wsstream.WriteChannel
	channels[rcconst.StreamResize] = channelIf(opts.TTY, wsstream.ReadChannel)
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		rcconst.StreamProtocolV5Name: {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(s.cfg.StreamIdleTimeout)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		s.log.Info("exec: WebSocket upgrade failed", "pod", pod, "container", ctr, "err", err)
		return
	}
	defer func() { _ = conn.Close() }() // the status below is the last word

	// client-go waits for a first frame, on the lowest channel it reads, before streaming.
	first := streams[rcconst.StreamErr]
	var stdin io.Reader
	var stdout, stderr io.WriteCloser
	if opts.Stdin {
		stdin = streams[rcconst.StreamStdIn]
	}
	if opts.Stderr {
		stderr, first = streams[rcconst.StreamStdErr], streams[rcconst.StreamStdErr]
	}
	if opts.Stdout {
		stdout, first = streams[rcconst.StreamStdOut], streams[rcconst.StreamStdOut]
	}
	if _, err := first.Write(nil); err != nil {
		s.log.Info("exec: WebSocket client gone", "pod", pod, "container", ctr, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var resize chan remotecommand.TerminalSize
	if opts.TTY {
		resize = make(chan remotecommand.TerminalSize)
		go decodeResizes(ctx, streams[rcconst.StreamResize], resize)
	}

	status := execStatus(target.ExecInContainer(ctx, pod, "", ctr, cmd, stdin, stdout, stderr, opts.TTY, resize, 0))
	b, err := json.Marshal(status)
	if err != nil {
		s.log.Error("exec: encode status", "err", err)
		return
	}
	conn.SetWriteDeadline(statusWriteTimeout)
	if _, err := streams[rcconst.StreamErr].Write(b); err != nil {
		s.log.Info("exec: WebSocket client gone before the status", "pod", pod, "container", ctr, "err", err)
	}
}

// decodeResizes passes the JSON terminal sizes the client sends until the stream or ctx ends.
func decodeResizes(ctx context.Context, r io.Reader, out chan<- remotecommand.TerminalSize) {
	defer close(out)
	dec := json.NewDecoder(r)
	for {
		var size remotecommand.TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case out <- size:
		case <-ctx.Done():
			return
		}
	}
}

// execStatus is the Status the v4 and v5 protocols end a session with: the exit code of a
// command that ran, or what kept it from running.
func execStatus(err error) metav1.Status {
	if err == nil {
		return metav1.Status{Status: metav1.StatusSuccess}
	}
	var exit utilexec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  rcconst.NonZeroExitCodeReason,
			Message: fmt.Sprintf("command terminated with non-zero exit code: %v", exit),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
				{Type: rcconst.ExitCodeCauseType, Message: strconv.Itoa(exit.ExitStatus())},
			}},
		}
	}
	return apierrors.NewInternalError(fmt.Errorf("error executing command in container: %w", err)).Status()
}
