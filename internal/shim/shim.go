// Package shim is what stands between the node runtime and a container process, like
// containerd's shim: it enters the pod's namespaces, keeps the container's log, records its
// start and exit, and outlives a restart of the runtime. It is built into the small weft-shim
// binary, which starts in milliseconds where weft, with Kubernetes inside, takes a tenth of a second.
package shim

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/weftnet/weft/internal/atomicfile"
	"github.com/weftnet/weft/internal/crilog"
)

// StartRecord is written when the container process starts.
type StartRecord struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
}

// ExitRecord is written when the container process ends.
type ExitRecord struct {
	ExitCode   int       `json:"exitCode"`
	Signal     string    `json:"signal,omitempty"`
	Reason     string    `json:"reason"`
	Message    string    `json:"message,omitempty"`
	FinishedAt time.Time `json:"finishedAt"`
}

// The records' file names in an instance's directory.
const (
	StartFile = "start.json"
	ExitFile  = "exit.json"
)

// Run runs argv (weft-shim enter ..., which becomes the container) with its output in logPath,
// in the CRI log format, and records its start and end in dir.
func Run(dir, logPath string, argv []string) error {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	defer logf.Close()
	stdout, stderr := crilog.NewLogWriters(logf)
	defer stdout.Close()
	defer stderr.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The container never outlives its shim, so nothing escapes `weft lab down` or a pod's deletion.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return WriteRecord(filepath.Join(dir, ExitFile), ExitRecord{ExitCode: 128, Reason: "StartError", Message: err.Error(), FinishedAt: time.Now()})
	}
	if err := WriteRecord(filepath.Join(dir, StartFile), StartRecord{PID: cmd.Process.Pid, StartedAt: time.Now()}); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	waitErr := cmd.Wait()
	rec := ExitRecord{FinishedAt: time.Now(), Reason: "Completed"}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		rec.ExitCode, rec.Reason = ws.ExitStatus(), "Error"
		if ws.Signaled() {
			rec.ExitCode, rec.Signal = 128+int(ws.Signal()), ws.Signal().String()
		}
	default:
		rec.ExitCode, rec.Reason, rec.Message = 128, "Error", waitErr.Error()
	}
	// The container's program never ran: report it as container runtimes report a failed start.
	if msg, err := os.ReadFile(filepath.Join(dir, StartErrorFile)); err == nil {
		rec.ExitCode, rec.Reason, rec.Message = 128, "StartError", string(msg)
	}
	return WriteRecord(filepath.Join(dir, ExitFile), rec)
}

// WriteRecord writes a record atomically: a reader sees the old file or the whole new one.
func WriteRecord(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

// ReadRecord reads a record; it reports false when there is none (yet).
func ReadRecord(path string, v any) bool {
	b, err := os.ReadFile(path)
	return err == nil && json.Unmarshal(b, v) == nil
}
