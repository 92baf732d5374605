package lab

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ErrAlreadyRunning means `up` found the lab already running; it is not a failure.
var ErrAlreadyRunning = errors.New("lab already running")

// Up checks the machine, claims the API port, starts the supervisor detached and follows its
// progress until the lab is ready. On failure nothing of the lab is left behind.
func Up(o Options, out io.Writer, log *slog.Logger) (Plan, error) {
	plan := NewPlan(o)
	if _, ok := supervisorRunning(plan.StateDir); ok {
		return plan, ErrAlreadyRunning
	}
	if _, err := os.Stat(plan.StateDir); err == nil {
		return plan, fmt.Errorf("lab %q was not shut down cleanly (its state is still in %s): run `sudo weft lab down --name %s` first", o.Name, plan.StateDir, o.Name)
	}
	if os.Geteuid() != 0 {
		return plan, errNotRoot
	}
	if err := os.MkdirAll(plan.StateDir, 0o755); err != nil {
		return plan, fmt.Errorf("--data-dir: %w", err)
	}
	// It exists before the nodes start, so that they see what is put in it later (see PrepareNode).
	if err := os.MkdirAll(plan.ImagesDir, 0o755); err != nil {
		return plan, fmt.Errorf("--images-dir: %w", err)
	}
	cleanup := func(cause error) error {
		if _, derr := Down(o.DataDir, o.Name, log); derr != nil {
			return errors.Join(cause, fmt.Errorf("cleaning up: %w", derr))
		}
		return cause
	}
	// Before the first namespace (the preflight's) is made.
	if err := noteHostDirs(o.DataDir); err != nil {
		return plan, cleanup(err)
	}
	if err := Preflight(plan); err != nil {
		return plan, cleanup(err)
	}
	// Holding the port from here on means no other program can take it before the supervisor,
	// which inherits this very socket.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.APIPort)))
	if err != nil {
		return plan, cleanup(fmt.Errorf("--https-listen-port %d: 127.0.0.1:%d is in use (another lab or a Kubernetes API server?): pick a free port with --https-listen-port", o.APIPort, o.APIPort))
	}
	defer l.Close()
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		return plan, cleanup(err)
	}
	defer lf.Close()
	if err := writePlan(plan); err != nil {
		return plan, cleanup(err)
	}
	if err := os.MkdirAll(filepath.Join(plan.StateDir, logsDir), 0o755); err != nil {
		return plan, cleanup(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return plan, cleanup(err)
	}
	defer pr.Close()
	cmd, err := startSupervisor(plan.StateDir, pw, lf)
	pw.Close()
	if err != nil {
		return plan, cleanup(err)
	}
	// The supervisor owns the port now; this process must not keep it open.
	l.Close()

	// A Ctrl-C here stops only the watching: the lab keeps starting in the background.
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt)
	defer signal.Stop(interrupted)
	go func() {
		if _, ok := <-interrupted; ok {
			fmt.Fprintf(out, "\ninterrupted: lab %q keeps starting in the background; `weft lab status` shows it, `sudo weft lab down` removes it\n", o.Name)
			os.Exit(130)
		}
	}()

	start := time.Now()
	err = readProgress(pr, func(step string) {
		fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(start).Seconds(), step)
	})
	if err != nil {
		_ = cmd.Wait()
		return plan, cleanup(err)
	}
	fmt.Fprintf(out, "[%5.1fs] lab %q is ready\n", time.Since(start).Seconds(), o.Name)
	go func() { _ = cmd.Wait() }()
	return plan, nil
}

// startSupervisor runs `weft lab supervise` in its own session, so it outlives this command and
// the terminal.
func startSupervisor(stateDir string, progress, listener *os.File) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(stateDir, logsDir, "supervisor.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(self, "lab", "supervise", "--state-dir", stateDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{progress, listener} // fd 3 and fd 4
	cmd.Dir = "/"                                   // a daemon: no hold on the user's directory
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the lab supervisor: %w", err)
	}
	return cmd, nil
}
