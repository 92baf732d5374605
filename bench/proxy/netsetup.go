package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/weftnet/weft/internal/netns"
)

// Each proxier gets two fresh namespaces, joined by a veth pair:
//
//	wbench-<pid>-node  eth0 192.168.255.1/24, default via .2: the proxier runs here, and the
//	                   connect test's client (so connections take the nat output path)
//	wbench-<pid>-srv   eth0 192.168.255.2/24 plus the endpoint addresses of the services the
//	                   connect test uses, a listener on :8080
//
// The client's source is outside the cluster CIDR, so both proxies masquerade its connections.
// No lab or other command names a namespace wbench-*.
const (
	nsPrefix   = "wbench-"
	nodeAddr   = "192.168.255.1"
	serverAddr = "192.168.255.2"
)

type benchNet struct {
	node, server string
	ln           net.Listener
	accepted     atomic.Int64
}

func nsNames() (node, server string) {
	p := nsPrefix + strconv.Itoa(os.Getpid())
	return p + "-node", p + "-srv"
}

// newBenchNet builds the namespaces; on error, close removes whatever was made.
func newBenchNet(ctx context.Context, services int) (*benchNet, error) {
	b := &benchNet{}
	node, srv := nsNames()
	for _, name := range []string{node, srv} {
		if err := netns.Create(name); err != nil {
			return b, err
		}
		if name == node {
			b.node = name
		} else {
			b.server = name
		}
	}
	steps := [][]string{
		{"-n", node, "link", "set", "lo", "up"},
		{"-n", srv, "link", "set", "lo", "up"},
		{"-n", node, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", srv},
		{"-n", node, "addr", "add", nodeAddr + "/24", "dev", "eth0"},
		{"-n", srv, "addr", "add", serverAddr + "/24", "dev", "eth0"},
		{"-n", node, "link", "set", "eth0", "up"},
		{"-n", srv, "link", "set", "eth0", "up"},
		{"-n", node, "route", "add", "default", "via", serverAddr},
	}
	seen := map[string]bool{}
	for _, i := range connectTargets(services) {
		for e := range endpointCount(i) {
			if a := endpointIP(i, e).String(); !seen[a] {
				seen[a] = true
				steps = append(steps, []string{"-n", srv, "addr", "add", a + "/32", "dev", "eth0"})
			}
		}
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, "ip", s...).CombinedOutput(); err != nil {
			return b, fmt.Errorf("ip %s: %w: %s", strings.Join(s, " "), err, out)
		}
	}
	// A socket stays in the namespace it was made in, whichever thread later accepts on it.
	err := netns.Do(netns.Path(srv), func() error {
		var err error
		b.ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", endpointPort))
		return err
	})
	if err != nil {
		return b, fmt.Errorf("listen in %s: %w", srv, err)
	}
	go b.serve()
	return b, nil
}

// serve accepts and closes: the client resets each connection right after it is set up.
func (b *benchNet) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.accepted.Add(1)
		c.Close()
	}
}

func (b *benchNet) close() error {
	var errs []error
	if b.ln != nil {
		errs = append(errs, b.ln.Close())
	}
	for _, name := range []string{b.node, b.server} {
		if name != "" {
			errs = append(errs, netns.Delete(name))
		}
	}
	return errors.Join(errs...)
}

// sweepStale removes namespaces left by a run that was killed (SIGKILL skips the cleanup):
// wbench-<pid>-* whose pid is gone.
func sweepStale() error {
	entries, err := os.ReadDir(netns.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue
		}
		errs = append(errs, netns.Delete(e.Name()))
	}
	return errors.Join(errs...)
}
