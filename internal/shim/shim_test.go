package shim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRecordsLogAndExit(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "logs", "0.log")
	if err := Run(dir, logPath, []string{"/bin/sh", "-c", "echo out; echo err >&2; printf partial; exit 3"}); err != nil {
		t.Fatal(err)
	}
	var start StartRecord
	var exit ExitRecord
	if !ReadRecord(filepath.Join(dir, StartFile), &start) || start.PID <= 0 {
		t.Errorf("no start record: %+v", start)
	}
	if !ReadRecord(filepath.Join(dir, ExitFile), &exit) || exit.ExitCode != 3 || exit.Reason != "Error" {
		t.Errorf("exit record %+v, want code 3, reason Error", exit)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{" stdout F out\n", " stderr F err\n", " stdout P partial\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestRunRecordsStartError(t *testing.T) {
	dir := t.TempDir()
	if err := Run(dir, filepath.Join(dir, "0.log"), []string{"/no/such/program"}); err != nil {
		t.Fatal(err)
	}
	var exit ExitRecord
	if !ReadRecord(filepath.Join(dir, ExitFile), &exit) || exit.Reason != "StartError" || !strings.Contains(exit.Message, "no such file") {
		t.Errorf("exit record %+v, want a StartError naming the problem", exit)
	}
}

func TestRunSignalExit(t *testing.T) {
	dir := t.TempDir()
	if err := Run(dir, filepath.Join(dir, "0.log"), []string{"/bin/sh", "-c", "kill -9 $$"}); err != nil {
		t.Fatal(err)
	}
	var exit ExitRecord
	if !ReadRecord(filepath.Join(dir, ExitFile), &exit) || exit.ExitCode != 137 {
		t.Errorf("exit record %+v, want 137 for SIGKILL", exit)
	}
}
