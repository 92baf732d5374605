package lab

import (
	"slices"
	"strings"
	"testing"
)

// TestPolicyFlag: --policy none and kube-network-policies turn the agents' NetworkPolicy off,
// weft (the default) leaves it on, anything else is refused by name.
func TestPolicyFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		off  bool
	}{{nil, false}, {[]string{"--policy", "weft"}, false}, {[]string{"--policy", "none"}, true}, {[]string{"--policy", "kube-network-policies"}, true}} {
		o, err := completed(t, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := slices.Contains(NewPlan(o).agentArgs(), "--agent-arg=--policy=none"); got != tc.off {
			t.Errorf("%v: agent args %v", tc.args, NewPlan(o).agentArgs())
		}
	}
	if _, err := completed(t, "--policy", "calico"); err == nil || !strings.Contains(err.Error(), "--policy") {
		t.Errorf("--policy calico: %v, want an error naming --policy", err)
	}
}
