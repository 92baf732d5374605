package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/weftnet/weft/internal/netns"
)

// child is one supervised process: a weft subcommand run inside a lab namespace.
type child struct {
	name  string
	netns string
	node  *Node // set for a lab node: it also gets its own mount and UTS namespaces
	// nodeBinds are host directories a node sees as they are, not through its overlays.
	nodeBinds []string
	args      []string // weft subcommand and its arguments
	logPath   string
	stopWait  time.Duration

	// nodeNS holds a node's mount and UTS namespaces open after its first start, so that a
	// restarted node runtime re-enters the same world: its pods' namespaces, mounts and files.
	nodeNS []*os.File

	mu       sync.Mutex
	cmd      *exec.Cmd
	restarts int
	stopping bool
	exited   chan struct{} // closed when the current process exits
}

// command builds the re-exec chain: weft enters the namespaces, then execs weft again as the
// component, so the component starts with every thread in the right namespace.
func (c *child) command(self, stateDir string) *exec.Cmd {
	argv := []string{"internal", "nsexec", "--netns", netns.Path(c.netns)}
	switch {
	case c.node != nil && c.nodeNS != nil:
		argv = append(argv, "--join-node") // fds 3 and 4, see start
	case c.node != nil:
		argv = append(argv, "--node-root", filepath.Join(stateDir, nodesDir, c.node.Name), "--hostname", c.node.Name)
		for _, dir := range c.nodeBinds {
			argv = append(argv, "--node-bind", dir)
		}
	}
	argv = append(argv, "--", self)
	argv = append(argv, c.args...)
	cmd := exec.Command(self, argv...)
	cmd.Env = append(os.Environ(), "WEFT_LAB_COMPONENT="+c.name)
	// Its own process group, so a Ctrl-C on the terminal that ran `weft lab up` never reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// start launches the process with its output appended to its log.
func (c *child) start(self, stateDir string) error {
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("%s log: %w", c.name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== weft: starting %s at %s\n", c.name, time.Now().Format(time.RFC3339))
	cmd := c.command(self, stateDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = c.nodeNS
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	if c.node != nil && c.nodeNS == nil {
		c.nodeNS = holdNodeNamespaces(cmd.Process.Pid)
	}
	exited := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		if f, ferr := os.OpenFile(c.logPath, os.O_APPEND|os.O_WRONLY, 0); ferr == nil {
			fmt.Fprintf(f, "=== weft: %s exited: %v\n", c.name, err)
			f.Close()
		}
		close(exited)
	}()
	return nil
}

// supervise restarts the process whenever it exits, with a growing pause, until stop is called.
func (c *child) supervise(self, stateDir string, changed func()) {
	backoff := time.Second
	for {
		c.mu.Lock()
		exited := c.exited
		c.mu.Unlock()
		started := time.Now()
		<-exited
		c.mu.Lock()
		stopping := c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 30*time.Second)
		c.mu.Lock()
		if c.stopping {
			c.mu.Unlock()
			return
		}
		c.restarts++
		c.mu.Unlock()
		if err := c.start(self, stateDir); err != nil {
			// Try again after the next pause: the exited channel is still the closed one.
			continue
		}
		changed()
	}
}

// stop sends SIGTERM, waits for a graceful exit, then kills.
func (c *child) stop() {
	c.mu.Lock()
	c.stopping = true
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(c.stopWait):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// holdNodeNamespaces opens a new node's mount and UTS namespaces once its process has made
// them (it unshares them just before exec). Without them, a restart builds a fresh node.
func holdNodeNamespaces(pid int) []*os.File {
	own, err := netns.Inode("/proc/self/ns/mnt")
	if err != nil {
		return nil
	}
	for i := 0; i < 200; i++ {
		if ino, err := netns.Inode(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err == nil && ino != own {
			mnt, err1 := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
			uts, err2 := os.Open(fmt.Sprintf("/proc/%d/ns/uts", pid))
			if err1 == nil && err2 == nil {
				return []*os.File{mnt, uts}
			}
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (c *child) started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd != nil
}

func (c *child) info() ProcessInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	pi := ProcessInfo{Name: c.name, NetNS: c.netns, Restarts: c.restarts, Log: c.logPath}
	if c.cmd != nil && c.cmd.Process != nil {
		select {
		case <-c.exited:
		default:
			pi.PID = c.cmd.Process.Pid
		}
	}
	return pi
}
