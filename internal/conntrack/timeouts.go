// Package conntrack keeps the node's connection tracking right for the service proxy: the TCP
// timeouts kube-proxy sets, so long idle connections keep their translation, and the UDP flows
// whose service moved to other endpoints cleared, so their next packet is translated afresh.
// It knows nothing of Services: the proxy hands it addresses, ports and endpoints.
package conntrack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Timeouts are the TCP conntrack timeouts a service proxy sets on its node, as
// kube-proxy does with the same defaults: an established flow lives a day without packets, and
// a half-closed one an hour, so a long idle connection through a Service keeps its translation.
// Zero leaves the kernel's value.
type Timeouts struct {
	Established time.Duration
	CloseWait   time.Duration
}

// DefaultTimeouts are kube-proxy's defaults (--conntrack-tcp-timeout-established,
// --conntrack-tcp-timeout-close-wait).
func DefaultTimeouts() Timeouts {
	return Timeouts{Established: 24 * time.Hour, CloseWait: time.Hour}
}

// sysctlDir is where the node's conntrack settings live; they belong to the network namespace.
var sysctlDir = "/proc/sys/net/netfilter"

// Apply writes the timeouts that differ from the node's, in the calling thread's network
// namespace.
func (t Timeouts) Apply() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"nf_conntrack_tcp_timeout_established": t.Established,
		"nf_conntrack_tcp_timeout_close_wait":  t.CloseWait,
	} {
		if d <= 0 {
			continue
		}
		path := filepath.Join(sysctlDir, name)
		want := strconv.Itoa(int(d / time.Second))
		if cur, err := os.ReadFile(path); err == nil && string(cur) == want+"\n" {
			continue
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("set %s to %s s (is the nf_conntrack module loaded?): %w", name, want, err))
		}
	}
	return errors.Join(errs...)
}
