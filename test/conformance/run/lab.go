package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// lab is the weft lab a run brings up and takes down.
type lab struct {
	weft   string
	name   string
	port   int
	flags  string
	images string // handed to the lab so containers of test images have their files
}

// up brings the lab up and returns its admin kubeconfig. A lab of the same name left by an
// earlier run that was killed is taken down first, so a run always starts clean.
func (l *lab) up(ctx context.Context, logPath string) (string, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer log.Close()
	_ = l.weftCmd(context.Background(), log, "lab", "down", "--name", l.name).Run()
	args := []string{"lab", "up", "--name", l.name, "--https-listen-port", strconv.Itoa(l.port), "--images-dir", l.images}
	if _, given := l.flag("nodes"); !given {
		args = append(args, "--nodes", strconv.Itoa(defaultNodes))
	}
	if _, given := l.flag("zones"); !given {
		args = append(args, "--zones", strconv.Itoa(l.zones()))
	}
	args = append(args, strings.Fields(l.flags)...)
	fmt.Printf("conformance: %s %s\n", l.weft, strings.Join(args, " "))
	if err := l.weftCmd(ctx, log, args...).Run(); err != nil {
		return "", fmt.Errorf("weft lab up: %w (its output is in %s)", err, logPath)
	}
	return filepath.Join(l.dataDir(), "labs", l.name, "control-plane", "admin.kubeconfig"), nil
}

// dataDir is the lab's --data-dir as the lab flags give it, or weft's default.
func (l *lab) dataDir() string {
	if v, ok := l.flag("data-dir"); ok {
		return v
	}
	return "/var/lib/weft"
}

// defaultNodes is the fewest nodes with which every [sig-network] spec runs: the topology
// specs (Topology Aware Hints, trafficDistribution) need three zones of two nodes each.
const defaultNodes = 6

// zones spreads the lab's nodes over three zones (one per node below three).
func (l *lab) zones() int {
	nodes := defaultNodes
	if v, ok := l.flag("nodes"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			nodes = n
		}
	}
	return max(1, min(3, nodes))
}

// flag is the value the lab flags give --<name> (the last one wins, as for the lab itself).
func (l *lab) flag(name string) (value string, given bool) {
	fields := strings.Fields(l.flags)
	for i, f := range fields {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			value, given = v, true
		} else if f == "--"+name && i+1 < len(fields) {
			value, given = fields[i+1], true
		}
	}
	return value, given
}

// down takes the lab down; it runs even when the run was interrupted.
func (l *lab) down(logPath string) {
	log, err := os.Create(logPath)
	if err != nil {
		log = os.Stderr
	} else {
		defer log.Close()
	}
	if err := l.weftCmd(context.Background(), log, "lab", "down", "--name", l.name).Run(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: weft lab down --name %s: %v (see %s)\n", l.name, err, logPath)
	}
}

func (l *lab) weftCmd(ctx context.Context, log *os.File, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, l.weft, args...)
	cmd.Stdout, cmd.Stderr = log, log
	return cmd
}
