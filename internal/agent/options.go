package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/conntrack"
	clusterdns "github.com/weftnet/weft/internal/dns"
	"github.com/weftnet/weft/internal/overlay"
)

// Options configure the agent.
type Options struct {
	NodeName   string
	CNIConfDir string
	// MTU overrides the detected MTU of pod interfaces and overlay devices.
	MTU     int
	Backend string
	// Proxy is the service proxy: weft's own, or none (kube-proxy or another serves Services).
	Proxy string
	// Policy enforces NetworkPolicy: weft's own, or none (another controller does, or nobody).
	Policy string
	// Conntrack are the TCP conntrack timeouts weft's proxy sets, as kube-proxy does.
	Conntrack conntrack.Timeouts
	Resync    time.Duration
	// NodeExternalIPs (one per family) are the addresses peers reach this node at, when they
	// are not its InternalIPs; UseExternalIP takes them from the Node's ExternalIPs instead.
	NodeExternalIPs []netip.Addr
	UseExternalIP   bool
	// ClusterCIDRs and ServiceCIDRs are the cluster's ranges: pod traffic to them keeps its
	// source; pod traffic anywhere else is masqueraded, except to NoMasqueradeCIDRs.
	ClusterCIDRs      []netip.Prefix
	ServiceCIDRs      []netip.Prefix
	NoMasqueradeCIDRs []netip.Prefix
	IPv6Masquerade    bool
	// LBPools are the addresses LoadBalancer Services get, per family.
	LBPools []netip.Prefix
	// MetricsAddress serves Prometheus metrics (empty: off).
	MetricsAddress string
	// DNS is the node's cluster DNS server.
	DNS clusterdns.Options
	// StateDir keeps what the agent must remember across restarts (its WireGuard private key).
	StateDir string
	// WireGuardPort is the wireguard backend's UDP port; WireGuardKeyRotation, when not zero,
	// makes a new key pair once the key is that old.
	WireGuardPort        int
	WireGuardKeyRotation time.Duration

	// The flags' text, parsed once by Complete into the typed fields above.
	externalIPText, clusterCIDRText, serviceCIDRText, noMasqueradeText, lbPoolText []string
}

// Defaults are the container runtimes' usual CNI directory, K3s's default backend and a
// one-minute repair resync.
func Defaults() Options {
	return Options{CNIConfDir: "/etc/cni/net.d", Backend: overlay.BackendVXLAN, Proxy: "weft", Policy: "weft", Conntrack: conntrack.DefaultTimeouts(),
		Resync: time.Minute, MetricsAddress: ":9810", StateDir: "/var/lib/weft", WireGuardPort: overlay.DefaultWireGuardPort,
		DNS: clusterdns.Defaults()}
}

// AddFlags binds the options.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "name of this node's Node object (default: the host name)")
	fs.StringVar(&o.CNIConfDir, "cni-conf-dir", o.CNIConfDir, "directory the container runtime reads CNI configurations from")
	fs.IntVar(&o.MTU, "mtu", o.MTU, "MTU of pod interfaces and overlay devices (default: the node interface's MTU less the backend's overhead)")
	fs.StringVar(&o.Backend, "backend", o.Backend, "how pods reach pods on other nodes: vxlan (tunnels; nodes need only reach each other), host-gw (routes via node addresses; nodes on one L2 segment), wireguard (encrypted tunnels; kernel WireGuard or, without it, userspace over TUN) or none (another CNI or the fabric routes)")
	fs.IntVar(&o.WireGuardPort, "wireguard-port", o.WireGuardPort, "UDP port of the wireguard backend's device")
	fs.DurationVar(&o.WireGuardKeyRotation, "wireguard-key-rotation", o.WireGuardKeyRotation, "make a new WireGuard key pair when the key is this old, e.g. 24h (0: only on `weft wireguard rotate`)")
	fs.StringVar(&o.StateDir, "state-dir", o.StateDir, "directory for what the agent keeps across restarts (the WireGuard private key, mode 0600)")
	fs.StringVar(&o.Proxy, "proxy", o.Proxy, "service proxy: weft (nftables table inet weft-proxy, replaces kube-proxy) or none")
	fs.StringVar(&o.Policy, "policy", o.Policy, "NetworkPolicy enforcement: weft (nftables table inet weft-policy) or none")
	fs.StringSliceVar(&o.externalIPText, "node-external-ip", nil, "address(es), one per family, that other nodes reach this node at (default: its InternalIPs)")
	fs.BoolVar(&o.UseExternalIP, "use-external-ip", o.UseExternalIP, "reach nodes at their Nodes' ExternalIP addresses rather than InternalIPs (K3s's --flannel-external-ip)")
	fs.StringSliceVar(&o.clusterCIDRText, "cluster-cidr", nil, "the cluster's pod ranges; pods' traffic leaving them is masqueraded to the node's address")
	fs.StringSliceVar(&o.serviceCIDRText, "service-cidr", nil, "the cluster's service ranges (never masqueraded to)")
	fs.StringSliceVar(&o.noMasqueradeText, "no-masquerade-cidr", nil, "destinations that see pods' own addresses (routed networks); repeatable")
	fs.StringSliceVar(&o.lbPoolText, "lb-pool", nil, "ranges LoadBalancer Services get addresses from, one or more per family; the node owning an address answers ARP/NDP for it")
	fs.BoolVar(&o.IPv6Masquerade, "ipv6-masq", o.IPv6Masquerade, "masquerade IPv6 pod traffic too (K3s's --flannel-ipv6-masq)")
	fs.StringVar(&o.MetricsAddress, "metrics-bind-address", o.MetricsAddress, "address for Prometheus metrics at /metrics (empty: off)")
	fs.DurationVar(&o.Conntrack.Established, "conntrack-tcp-timeout-established", o.Conntrack.Established, "idle timeout of established TCP connections in conntrack, set on the node by the proxy (0: leave the kernel's), as kube-proxy's flag")
	fs.DurationVar(&o.Conntrack.CloseWait, "conntrack-tcp-timeout-close-wait", o.Conntrack.CloseWait, "conntrack timeout of TCP connections in CLOSE_WAIT, set on the node by the proxy (0: leave the kernel's), as kube-proxy's flag")
	fs.DurationVar(&o.Resync, "resync", o.Resync, "how often to repair the node's configuration even when nothing changed")
	o.DNS.AddFlags(fs)
}

// Complete parses the flags' addresses and ranges into the typed fields, naming every flag
// that holds something unparsable. The node name falls back to $NODE_NAME (the DaemonSet's
// downward API).
func (o *Options) Complete(getenv func(string) string) error {
	if o.NodeName == "" {
		o.NodeName = getenv("NODE_NAME")
	}
	var errs []error
	var err error
	if o.NodeExternalIPs, err = parseExternalIPs(o.externalIPText); err != nil {
		errs = append(errs, err)
	}
	for _, l := range []struct {
		flag string
		text []string
		into *[]netip.Prefix
	}{{"--cluster-cidr", o.clusterCIDRText, &o.ClusterCIDRs}, {"--service-cidr", o.serviceCIDRText, &o.ServiceCIDRs},
		{"--no-masquerade-cidr", o.noMasqueradeText, &o.NoMasqueradeCIDRs}, {"--lb-pool", o.lbPoolText, &o.LBPools}} {
		if *l.into, err = cidr.ParseList(l.text); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.flag, err))
		}
	}
	return errors.Join(errs...)
}

// Validate names every problem of the completed options.
func (o *Options) Validate() error {
	var errs []error
	if o.NodeName == "" {
		errs = append(errs, errors.New("--node-name: give this node's name"))
	}
	if o.MTU != 0 && (o.MTU < 1280 || o.MTU > 65535) {
		errs = append(errs, fmt.Errorf("--mtu %d: use 1280 to 65535 (1280 is IPv6's minimum)", o.MTU))
	}
	if !slices.Contains(overlay.Backends, o.Backend) {
		errs = append(errs, fmt.Errorf("--backend %q: use one of %s", o.Backend, strings.Join(overlay.Backends, ", ")))
	}
	if o.WireGuardPort < 1 || o.WireGuardPort > 65535 {
		errs = append(errs, fmt.Errorf("--wireguard-port %d: use 1 to 65535", o.WireGuardPort))
	}
	if o.WireGuardKeyRotation < 0 || (o.WireGuardKeyRotation > 0 && o.WireGuardKeyRotation < 10*time.Second) {
		errs = append(errs, fmt.Errorf("--wireguard-key-rotation %s: give 10s or more (e.g. 24h), or 0 to rotate only by hand", o.WireGuardKeyRotation))
	}
	if !filepath.IsAbs(o.StateDir) {
		errs = append(errs, fmt.Errorf("--state-dir %q: give an absolute path", o.StateDir))
	}
	if o.Proxy != "weft" && o.Proxy != "none" {
		errs = append(errs, fmt.Errorf("--proxy %q: use weft or none", o.Proxy))
	}
	if o.Policy != "weft" && o.Policy != "none" {
		errs = append(errs, fmt.Errorf("--policy %q: use weft or none", o.Policy))
	}
	for flag, d := range map[string]time.Duration{"--conntrack-tcp-timeout-established": o.Conntrack.Established, "--conntrack-tcp-timeout-close-wait": o.Conntrack.CloseWait} {
		if d < 0 || (d > 0 && d < time.Second) {
			errs = append(errs, fmt.Errorf("%s %s: give whole seconds or more (e.g. 1h), or 0 to leave the kernel's timeout", flag, d))
		}
	}
	if !filepath.IsAbs(o.CNIConfDir) {
		errs = append(errs, fmt.Errorf("--cni-conf-dir %q: give an absolute path", o.CNIConfDir))
	}
	if o.Resync <= 0 {
		errs = append(errs, fmt.Errorf("--resync %s: give a positive duration such as 1m", o.Resync))
	}
	errs = append(errs, o.DNS.Validate())
	return errors.Join(errs...)
}

func parseExternalIPs(ips []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range ips {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("--node-external-ip %q: give an IP address such as 203.0.113.7", s)
		}
		if slices.ContainsFunc(out, func(b netip.Addr) bool { return b.Is4() == a.Is4() }) {
			return nil, fmt.Errorf("--node-external-ip %s: give at most one address per family", strings.Join(ips, ","))
		}
		out = append(out, a)
	}
	return out, nil
}
