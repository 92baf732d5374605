package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/weftnet/weft/internal/agent"
	"github.com/weftnet/weft/internal/nft"
	"github.com/weftnet/weft/internal/proxy"
)

// startWeft runs weft's service proxy as the agent does, without the kernel handle it uses for
// LoadBalancer addresses and UDP conntrack (no such services here). Run's error is reported on
// errc: a proxy that stops is a failed measurement.
func startWeft(ctx context.Context, opts options, client kubernetes.Interface, errc chan<- error) (syncSource, error) {
	table, err := nft.New(nft.InetFamily, proxy.Table, "")
	if err != nil {
		return syncSource{}, err
	}
	reg := prometheus.NewRegistry()
	p := proxy.New(proxy.Options{
		NodeName:     nodeName,
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix(clusterCIDR)},
		Resync:       opts.syncPeriod,
		// The same spacing as kube-proxy's --min-sync-period; either syncs the first change
		// after a quiet spell at once, and the bench makes one change at a time.
		MinSyncInterval: opts.minSyncPeriod,
		Log:             slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Metrics:         reg,
	}, client, table, nil)
	go func() {
		// The agent's informers drop managed fields, as kube-proxy's do.
		factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(agent.StripManagedFields))
		if err := p.RunWith(ctx, factory); err != nil {
			errc <- fmt.Errorf("weft proxy: %w", err)
		}
	}()
	return syncSource{g: reg, families: map[string]string{"weft_proxy_sync_duration_seconds": "sync"}, kindLabel: "kind"}, nil
}
