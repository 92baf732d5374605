package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Files in a lab's state directory.
const (
	planFile      = "lab.json"
	supervisorPID = "supervisor.pid"
	processesFile = "processes.json"
	netnsRecord   = "netns.list"
	logsDir       = "logs"
	nodesDir      = "nodes"
	controlDir    = "control-plane"
)

// ErrNoLab means no lab of that name exists.
var ErrNoLab = errors.New("no such lab")

func writePlan(p Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.StateDir, planFile), append(b, '\n'), 0o644)
}

// LoadPlan reads the plan of a lab that was brought up.
func LoadPlan(dataDir, name string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(filepath.Join(StateDir(dataDir, name), planFile))
	if errors.Is(err, os.ErrNotExist) {
		return p, fmt.Errorf("lab %q: %w", name, ErrNoLab)
	}
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%s: %w", planFile, err)
	}
	return p, nil
}

// recordNetNS appends a namespace name before it is created, so teardown finds it even if the
// supervisor dies between creating and recording.
func recordNetNS(stateDir, name string) error {
	f, err := os.OpenFile(filepath.Join(stateDir, netnsRecord), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, name)
	return err
}

func recordedNetNS(stateDir string) []string {
	b, err := os.ReadFile(filepath.Join(stateDir, netnsRecord))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// supervisorRunning returns the supervisor's PID if a supervisor of this lab is alive. The
// command line is checked so that a recycled PID is never mistaken for it.
func supervisorRunning(stateDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(stateDir, supervisorPID))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	args := strings.Split(string(cmdline), "\x00")
	if !containsSeq(args, "lab", "supervise") || !containsSeq(args, "--state-dir", stateDir) {
		return 0, false
	}
	// EPERM means alive but not ours to signal: `weft lab status` runs without sudo.
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0, false
	}
	return pid, true
}

func containsSeq(args []string, a, b string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == a && args[i+1] == b {
			return true
		}
	}
	return false
}

// ProcessInfo is one supervised process as `weft lab status` shows it.
type ProcessInfo struct {
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	NetNS    string `json:"netns"`
	Restarts int    `json:"restarts"`
	Log      string `json:"log"`
}

func loadProcesses(stateDir string) []ProcessInfo {
	var ps []ProcessInfo
	b, err := os.ReadFile(filepath.Join(stateDir, processesFile))
	if err == nil {
		_ = json.Unmarshal(b, &ps)
	}
	return ps
}
