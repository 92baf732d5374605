package main

import (
	"context"
	"fmt"
	"net"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-base/metrics/legacyregistry"
	utilsysctl "k8s.io/component-helpers/node/util/sysctl"
	"k8s.io/kube-proxy/config/v1alpha1"
	"k8s.io/kubernetes/pkg/proxy"
	kubeproxyconfig "k8s.io/kubernetes/pkg/proxy/apis/config"
	proxyconfigscheme "k8s.io/kubernetes/pkg/proxy/apis/config/scheme"
	"k8s.io/kubernetes/pkg/proxy/config"
	"k8s.io/kubernetes/pkg/proxy/iptables"
	"k8s.io/kubernetes/pkg/proxy/metrics"
	"k8s.io/kubernetes/pkg/proxy/nftables"
	proxyutil "k8s.io/kubernetes/pkg/proxy/util"
	utiliptables "k8s.io/kubernetes/pkg/util/iptables"
	"k8s.io/utils/ptr"
)

// startKubeProxy runs upstream kube-proxy's proxier for mode ("nftables" or "iptables") the way
// cmd/kube-proxy wires it (informers with managed fields trimmed, the config handlers, SyncLoop),
// minus what a benchmark must not do: no conntrack sysctl tuning (that lives in the app, not
// the proxier), no healthz or metrics server, no event recorder, no node topology.
func startKubeProxy(ctx context.Context, opts options, mode string, client kubernetes.Interface) (syncSource, error) {
	cfg, err := kubeProxyConfig(opts)
	if err != nil {
		return syncSource{}, err
	}
	detector := proxyutil.NewDetectLocalByCIDR(clusterCIDR)
	var p proxy.Provider
	switch mode {
	case "nftables":
		cfg.Mode = kubeproxyconfig.ProxyModeNFTables
		metrics.RegisterMetrics(cfg.Mode)
		p, err = nftables.NewProxier(ctx, cfg, v1.IPv4Protocol, detector, nodeName, net.ParseIP(nodeAddr), nil, nil, false)
	case "iptables":
		cfg.Mode = kubeproxyconfig.ProxyModeIPTables
		metrics.RegisterMetrics(cfg.Mode)
		p, err = iptables.NewProxier(ctx, cfg, v1.IPv4Protocol, utiliptables.New(utiliptables.ProtocolIPv4), utilsysctl.New(),
			detector, nodeName, net.ParseIP(nodeAddr), nil, nil, false)
	default:
		return syncSource{}, fmt.Errorf("kube-proxy mode %q", mode)
	}
	if err != nil {
		return syncSource{}, fmt.Errorf("kube-proxy %s proxier: %w", mode, err)
	}
	trim := func(obj any) (any, error) {
		if a, err := meta.Accessor(obj); err == nil {
			a.SetManagedFields(nil)
		}
		return obj, nil
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, cfg.ConfigSyncPeriod.Duration, informers.WithTransform(trim))
	services := config.NewServiceConfig(ctx, factory.Core().V1().Services(), cfg.ConfigSyncPeriod.Duration)
	services.RegisterEventHandler(p)
	go services.Run(ctx.Done())
	slices := config.NewEndpointSliceConfig(ctx, factory.Discovery().V1().EndpointSlices(), cfg.ConfigSyncPeriod.Duration)
	slices.RegisterEventHandler(p)
	go slices.Run(ctx.Done())
	cidrs := config.NewServiceCIDRConfig(ctx, factory.Networking().V1().ServiceCIDRs(), cfg.ConfigSyncPeriod.Duration)
	cidrs.RegisterEventHandler(p)
	go cidrs.Run(ctx.Done())
	factory.Start(ctx.Done())
	go p.SyncLoop()
	return syncSource{g: legacyregistry.DefaultGatherer, families: map[string]string{
		"kubeproxy_sync_full_proxy_rules_duration_seconds":    "full",
		"kubeproxy_sync_partial_proxy_rules_duration_seconds": "partial",
	}}, nil
}

// kubeProxyConfig is kube-proxy's defaulted configuration (as its options start from) with the
// bench's sync periods (also for the informers' resync), and no localhost NodePorts: weft does not serve NodePorts on loopback,
// and in iptables mode they would need the route_localnet sysctl.
func kubeProxyConfig(opts options) (*kubeproxyconfig.KubeProxyConfiguration, error) {
	versioned := &v1alpha1.KubeProxyConfiguration{}
	proxyconfigscheme.Scheme.Default(versioned)
	internal, err := proxyconfigscheme.Scheme.ConvertToVersion(versioned, kubeproxyconfig.SchemeGroupVersion)
	if err != nil {
		return nil, fmt.Errorf("default kube-proxy configuration: %w", err)
	}
	cfg := internal.(*kubeproxyconfig.KubeProxyConfiguration)
	cfg.SyncPeriod = metav1.Duration{Duration: opts.syncPeriod}
	cfg.MinSyncPeriod = metav1.Duration{Duration: opts.minSyncPeriod}
	cfg.IPTables.LocalhostNodePorts = ptr.To(false)
	cfg.ConfigSyncPeriod = metav1.Duration{Duration: opts.syncPeriod}
	return cfg, nil
}
