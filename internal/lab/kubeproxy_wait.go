package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/weftnet/weft/internal/netns"
)

// waitKubeProxies waits until every node's kube-proxy has written its rules once for each of the
// cluster's families, so that a lab reported ready serves its Services. Its health check would
// not do: it answers healthy before the first sync.
func waitKubeProxies(ctx context.Context, p Plan, timeout time.Duration) error {
	var families []string
	for _, c := range p.ClusterCIDRs {
		families = append(families, map[bool]string{true: "IPv4", false: "IPv6"}[c.Addr().Is4()])
	}
	for _, n := range p.Nodes {
		var last error
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			last = kubeProxySynced(ctx, n.NetNS, families)
			return last == nil, nil
		})
		if err != nil {
			return fmt.Errorf("kube-proxy on %s has not synced its rules after %s (%v)%s", n.Name, timeout, last, logTail(p.StateDir, "kube-proxy-"+n.Name, 3))
		}
	}
	return nil
}

// kubeProxySynced reads kube-proxy's metrics inside a node's network namespace: the time of
// the last successful sync appears per family once there has been one.
func kubeProxySynced(ctx context.Context, nodeNetNS string, families []string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
			err = netns.Do(netns.Path(nodeNetNS), func() error {
				// The socket is made on this thread, inside the node, and stays there.
				conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+kubeProxyMetrics+"/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	for _, f := range families {
		if !strings.Contains(string(body), `kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="`+f+`"}`) {
			return fmt.Errorf("no %s sync yet", f)
		}
	}
	return nil
}
