package dns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// An agent restart must lose no question, but the node's runtime starts the next agent only
// after the last one has exited (and after a back-off). So the DNS sockets never close: on
// its way out the agent hands them to a bridge, `weft internal dns-server --dns-bridge`, a
// detached child that inherits them, follows the API server on its own and answers from its
// own zone; the agent keeps answering until the bridge has synced, then exits. The next agent
// takes the same sockets from the bridge over a unix socket in the abstract namespace (one
// per network namespace: per node in the lab), answers beside it, and when its own zone is
// synced tells the bridge to go. The kernel keeps one socket through all three processes:
// nothing queued in it is dropped, and no port is ever closed.
//
// The bridge lives outside the agent's process but not outside its container: in a DaemonSet,
// when the container's first process exits, the kernel ends the rest, so there a rolling
// update with maxSurge (the next pod binding beside the old one) is what keeps DNS up.

// bridgeWait bounds how long an exiting agent waits for its bridge to sync; bridgeLife how
// long a bridge waits for a successor before it closes the sockets.
const (
	bridgeWait = 10 * time.Second
	bridgeLife = 5 * time.Minute
	drainTime  = 2 * time.Second // for answers still waiting on an upstream
)

// handOver starts the bridge, hands it a copy of every socket served over a unix socket of
// its own, and waits until the bridge says it answers. (Not as inherited files: passing an
// *os.File to a child makes its file description blocking, in every process that shares it,
// and a blocking recvmmsg waits for a whole batch.)
func (s *Server) handOver() error {
	files, err := s.serve.files()
	if err != nil || len(files) == 0 {
		return err
	}
	defer closeAll(files)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	private := fmt.Sprintf("%s-%d", s.opts.Handover, os.Getpid())
	ln, err := listenHandover(private)
	if err != nil {
		return err
	}
	args := append([]string{"internal", "dns-server", "--dns-bridge-from", private, "--kubeconfig", s.opts.Kubeconfig}, s.opts.bridgeFlags()...)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Its own session, and no signal when the agent dies: it must outlive the agent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		ln.Close()
		return fmt.Errorf("DNS bridge: %w", err)
	}
	go func() { _ = cmd.Wait() }() // reaped if it ends while the agent still runs
	s.log.Info("handing the DNS sockets to a bridge until the next agent", "pid", cmd.Process.Pid)
	ctx, cancel := context.WithTimeout(context.Background(), bridgeWait)
	defer cancel()
	if err := offerSockets(ctx, ln, files); err != nil {
		// The API server is out of reach, most likely. A bridge that never syncs must not
		// keep the sockets unread: the next agent binds its own and answers SERVFAIL until
		// it syncs, as a client prefers to a silence.
		_ = cmd.Process.Kill()
		return fmt.Errorf("DNS bridge not synced after %s; stopped it", bridgeWait)
	}
	return nil
}

// takeOver asks a bridge for the sockets it serves; nil when there is none. The connection
// stays open until the caller says it is synced (release).
func takeOver(name string) (*net.UnixConn, []*os.File) {
	if name == "" {
		return nil, nil
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: "@" + name, Net: "unix"})
	if err != nil {
		return nil, nil
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf, oob := make([]byte, 16), make([]byte, syscall.CmsgSpace(64*4))
	_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, nil
	}
	files, err := filesFromRights(oob[:oobn])
	if err != nil || len(files) == 0 {
		closeAll(files)
		c.Close()
		return nil, nil
	}
	return c, files
}

// release tells the bridge that this process answers on its own now.
func release(c *net.UnixConn) {
	if c != nil {
		_, _ = c.Write([]byte("synced\n"))
		c.Close()
	}
}

// listenHandover listens at the abstract unix socket name.
func listenHandover(name string) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: "@" + name, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("DNS handover socket @%s: %w", name, err)
	}
	return ln, nil
}

// offerSockets hands files to every process that connects to ln, and returns when one of them
// says it is synced (or ctx ends). It closes ln.
func offerSockets(ctx context.Context, ln *net.UnixListener, files []*os.File) error {
	defer ln.Close()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	fds := make([]int, len(files))
	for i, f := range files {
		// Through the raw connection: f.Fd() would make the socket blocking.
		rc, err := f.SyscallConn()
		if err != nil {
			return err
		}
		if err := rc.Control(func(fd uintptr) { fds[i] = int(fd) }); err != nil {
			return err
		}
	}
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return ctx.Err()
		}
		if _, _, err := c.WriteMsgUnix([]byte("dns"), syscall.UnixRights(fds...), nil); err != nil {
			c.Close()
			continue
		}
		// The successor keeps the connection until it is synced; if it dies first, the line
		// never comes and the next successor is waited for.
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err == nil && line == "synced\n" {
			return nil
		}
	}
}

func filesFromRights(oob []byte) ([]*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "dns-socket"))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// bridgeFlags are the options as flags for the bridge's command line.
func (o Options) bridgeFlags() []string {
	out := []string{"--cluster-domain", o.Domain, "--dns-ttl", o.TTL.String(), "--dns-resolv-conf", o.ResolvConf,
		"--dns-handover", o.Handover, "--dns-cache-size", fmt.Sprint(o.CacheSize), "--dns-cache-max-ttl", o.CacheMaxTTL.String(),
		fmt.Sprintf("--dns-log=%v", o.Log)}
	for _, u := range o.Upstreams {
		out = append(out, "--dns-upstream", u)
	}
	for _, z := range o.StubZones {
		out = append(out, "--dns-stub-zone", z)
	}
	return out
}

// errNoSockets: a bridge that got no sockets has nothing to keep.
var errNoSockets = errors.New("--dns-bridge-from: no sockets handed over")
