package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/netns"
)

// TestProxyInNamespaces runs the real table in a "node" namespace with a "pod" behind a veth:
// a ClusterIP reaches the pod, a service without endpoints and a port a service lacks are
// refused at once, and an unallocated address in the ServiceCIDR is dropped.
func TestProxyInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and nftables tables")
	}
	suffix := fmt.Sprint(os.Getpid() % 100000)
	node, pod := "weft-pxt-node"+suffix, "weft-pxt-pod"+suffix
	for _, ns := range []string{node, pod} {
		if err := netns.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = netns.Delete(ns) })
	}
	for _, cmd := range [][]string{
		{"ip", "-n", node, "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", pod},
		{"ip", "-n", node, "addr", "add", "10.42.0.1/24", "dev", "veth0"},
		{"ip", "-n", node, "link", "set", "veth0", "up"},
		{"ip", "-n", node, "link", "set", "lo", "up"},
		// The service range goes toward the pod network, as a node's default route would take it.
		{"ip", "-n", node, "route", "add", "10.43.0.0/16", "via", "10.42.0.2"},
		{"ip", "-n", pod, "addr", "add", "10.42.0.2/24", "dev", "eth0"},
		{"ip", "-n", pod, "link", "set", "eth0", "up"},
		{"ip", "-n", pod, "link", "set", "lo", "up"},
		{"ip", "-n", pod, "route", "add", "default", "via", "10.42.0.1"},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, out)
		}
	}
	var ln net.Listener
	if err := netns.Do(netns.Path(pod), func() (err error) { ln, err = net.Listen("tcp", "10.42.0.2:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "pod: you came from %s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()

	st := state{
		serviceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.43.0.0/16")},
		clusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")},
		ports: []*servicePort{
			{namespace: "default", name: "web", protocol: "tcp", clusterIP: netip.MustParseAddr("10.43.0.10"), port: 80,
				endpoints: []endpoint{{ip: netip.MustParseAddr("10.42.0.2"), port: 8080}}},
			{namespace: "default", name: "empty", protocol: "tcp", clusterIP: netip.MustParseAddr("10.43.0.11"), port: 80},
			// externalTrafficPolicy Local, with a NodePort and an endpoint on this node.
			{namespace: "default", name: "local", protocol: "tcp", clusterIP: netip.MustParseAddr("10.43.0.12"), port: 80, nodePort: 30081,
				externalLocal:  true,
				endpoints:      []endpoint{{ip: netip.MustParseAddr("10.42.0.2"), port: 8080, node: "n"}},
				localEndpoints: []endpoint{{ip: netip.MustParseAddr("10.42.0.2"), port: 8080, node: "n"}}},
		},
	}
	if err := netns.Do(netns.Path(node), func() error {
		nft, err := knftables.New(knftables.InetFamily, Table)
		if err != nil {
			return err
		}
		tx := nft.NewTransaction()
		writeRules(tx, st)
		return nft.Run(context.Background(), tx)
	}); err != nil {
		t.Fatalf("apply the table: %v", err)
	}

	dial := func(addr string) (string, error) {
		var out string
		err := netns.Do(netns.Path(node), func() error {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			b, err := io.ReadAll(c)
			out = string(b)
			return err
		})
		return out, err
	}
	// From the node: DNATed to the pod, and masqueraded (the node is outside the pod range).
	if out, err := dial("10.43.0.10:80"); err != nil || !strings.Contains(out, "you came from 10.42.0.1") {
		t.Errorf("ClusterIP 10.43.0.10:80: %q, %v", out, err)
	}
	if out, err := dial("10.42.0.1:30081"); err != nil || !strings.Contains(out, "you came from") {
		t.Errorf("externalTrafficPolicy Local NodePort 30081 on the node's address: %q, %v", out, err)
	}
	for _, refused := range []string{"10.43.0.11:80", "10.43.0.10:81"} {
		start := time.Now()
		if _, err := dial(refused); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: want connection refused, got %v after %s", refused, err, time.Since(start))
		}
	}
	if _, err := dial("10.43.0.99:80"); err == nil || errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("10.43.0.99 (no service holds it): want a timeout (dropped), got %v", err)
	}
}
