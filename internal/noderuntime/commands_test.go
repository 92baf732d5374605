package noderuntime

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The upstream DNS specs write `check="$$(dig ...)" && test -n "$$check"`: unless "$$" becomes
// "$", the shell sees its own PID and every lookup "succeeds".
func TestExpandedCommandAsTheKubeletDoes(t *testing.T) {
	c := &corev1.Container{
		Command: []string{"sh", "-c"},
		Args:    []string{`check="$$(dig +search kubernetes.default A)" && test -n "$$check"`, "$(POD_NAME)", "$(UNSET)", "$$(POD_NAME)"},
	}
	got := expandedCommand(c, envMap([]string{"POD_NAME=web-0", "PATH=/bin"}))
	want := []string{`check="$(dig +search kubernetes.default A)" && test -n "$check"`, "web-0", "$(UNSET)", "$(POD_NAME)"}
	if !slices.Equal(got.Args, want) {
		t.Errorf("args\n got %q\nwant %q", got.Args, want)
	}
	if !slices.Equal(got.Command, c.Command) {
		t.Errorf("command changed: %q", got.Command)
	}
	if c.Args[1] != "$(POD_NAME)" {
		t.Errorf("the pod's own spec was modified: %q", c.Args)
	}
	if expandedCommand(&corev1.Container{}, nil).Args != nil {
		t.Errorf("no args must stay nil (the image's default args apply)")
	}
}
