package cli

import (
	"bytes"
	"strings"
	"testing"
)

// The flags reach the trace package, whose errors name them; nothing is read before they are
// right.
func TestTraceFlags(t *testing.T) {
	root := NewRoot(Components{})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"trace", "--local", "--to", "10.43.0.10", "--proto", "udp"})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "--to 10.43.0.10: udp needs a port") || strings.Contains(err.Error(), "--from") {
		t.Errorf("err %v", err)
	}
}
