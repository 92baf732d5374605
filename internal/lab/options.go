package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/overlay"
)

// Options is everything a user can say about a lab. Flag names follow K3s where K3s has one.
type Options struct {
	Name  string
	Nodes int
	// Zones spreads the nodes over that many topology zones (0: nodes carry no zone).
	Zones              int
	ClusterCIDRs       []netip.Prefix
	ServiceCIDRs       []netip.Prefix
	ClusterDNS         netip.Addr
	ClusterDomain      string
	NodeCIDRMaskSizeV4 int
	NodeCIDRMaskSizeV6 int
	ExternalSubnet     bool
	Backend            string
	// WireGuardKeyRotation is passed to the agents under --backend wireguard (0: by hand only).
	WireGuardKeyRotation time.Duration
	MTU                  int
	UseExternalIP        bool
	LBPools              []string
	NoMasqueradeCIDRs    []string
	IPv6Masquerade       bool
	// Proxy is what serves Services on the nodes: weft's agent, or the upstream kube-proxy.
	Proxy string
	// Agent is how the nodes run weft's agent: the DaemonSet from deploy/, or a process.
	Agent string
	// Policy is what enforces NetworkPolicy on the nodes: weft's agent, the upstream
	// kube-network-policies, or nothing.
	Policy  string
	APIPort int
	DataDir string
	// ImagesDir holds image content the lab cannot make (the agnhost binary); nodes see it live.
	ImagesDir          string
	KubeconfigMode     os.FileMode
	clusterCIDRText    string
	serviceCIDRText    string
	clusterDNSText     string
	kubeconfigModeText string
}

// Defaults are K3s's defaults, so a K3s user finds the addresses they know.
func Defaults() Options {
	return Options{
		Name:               "default",
		Nodes:              3,
		ClusterDomain:      "cluster.local",
		NodeCIDRMaskSizeV4: 24,
		NodeCIDRMaskSizeV6: 64,
		APIPort:            6443,
		Backend:            overlay.BackendVXLAN,
		Proxy:              ProxyWeft,
		Agent:              AgentProcess,
		Policy:             PolicyWeft,
		DataDir:            "/var/lib/weft",
		clusterCIDRText:    "10.42.0.0/16",
		serviceCIDRText:    "10.43.0.0/16",
		kubeconfigModeText: "0644",
	}
}

// AddFlags binds the options to a flag set; Complete parses what the flags gave.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Name, "name", o.Name, "name of the lab; several labs with different names can run side by side")
	fs.IntVar(&o.Nodes, "nodes", o.Nodes, "number of nodes (node-1 ... node-N)")
	fs.IntVar(&o.Zones, "zones", o.Zones, "spread the nodes over this many zones (label topology.kubernetes.io/zone: zone-a, zone-b, ... in turn), for topology-aware routing; 0: none")
	fs.StringVar(&o.clusterCIDRText, "cluster-cidr", o.clusterCIDRText, "pod network: one range, or an IPv4 and an IPv6 range separated by a comma (dual-stack)")
	fs.StringVar(&o.serviceCIDRText, "service-cidr", o.serviceCIDRText, "service network: same families as --cluster-cidr")
	fs.StringVar(&o.clusterDNSText, "cluster-dns", "", "address of the cluster DNS service (default: the 10th address of the first --service-cidr, 10.43.0.10)")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "cluster DNS domain")
	fs.IntVar(&o.NodeCIDRMaskSizeV4, "node-cidr-mask-size-ipv4", o.NodeCIDRMaskSizeV4, "prefix length of each node's IPv4 podCIDR")
	fs.IntVar(&o.NodeCIDRMaskSizeV6, "node-cidr-mask-size-ipv6", o.NodeCIDRMaskSizeV6, "prefix length of each node's IPv6 podCIDR")
	fs.StringVar(&o.Backend, "backend", o.Backend, "how pods reach pods on other nodes: vxlan (tunnels), host-gw (routes via node addresses), wireguard (encrypted tunnels) or none")
	fs.BoolVar(&o.UseExternalIP, "use-external-ip", o.UseExternalIP, "give each node an ExternalIP on a second LAN subnet (192.168.10.0/24) and have the overlay reach nodes there (K3s's --node-external-ip with --flannel-external-ip)")
	fs.StringSliceVar(&o.LBPools, "lb-pool", o.LBPools, "ranges LoadBalancer Services get addresses from (default 192.168.1.224/28, and fd00:c0a8:1::220/124 with IPv6)")
	fs.DurationVar(&o.WireGuardKeyRotation, "wireguard-key-rotation", o.WireGuardKeyRotation, "with --backend wireguard: each node makes a new key pair when its key is this old, e.g. 1m (0: only on `weft wireguard rotate`)")
	fs.IntVar(&o.MTU, "mtu", o.MTU, "MTU of pod interfaces and overlay devices (default: the LAN's 1500 less the backend's overhead)")
	fs.StringSliceVar(&o.NoMasqueradeCIDRs, "no-masquerade-cidr", o.NoMasqueradeCIDRs, "destinations that see pods' own addresses instead of the node's (routed networks); repeatable")
	fs.BoolVar(&o.IPv6Masquerade, "ipv6-masq", o.IPv6Masquerade, "masquerade pods' IPv6 traffic that leaves the cluster too (K3s's --flannel-ipv6-masq)")
	fs.StringVar(&o.Policy, "policy", o.Policy, "what enforces NetworkPolicy on the nodes: weft (the agent's nftables table inet weft-policy), kube-network-policies (the upstream agent, to compare like for like) or none")
	fs.StringVar(&o.Proxy, "proxy", o.Proxy, "what serves Services on the nodes: weft (weft agent's nftables proxy), kube-proxy-nftables or kube-proxy-iptables (the upstream kube-proxy in that mode, to compare like for like)")
	fs.StringVar(&o.Agent, "agent", o.Agent, "how the nodes run weft's agent: daemonset (installed from deploy/ as `weft install` does: the DaemonSet's pods, weft-cni from its init container) or process (beside each node runtime, for debugging)")
	fs.BoolVar(&o.ExternalSubnet, "external-subnet", o.ExternalSubnet, "add 192.168.2.0/24 behind the router, with a host 192.168.2.10 that only the nodes can route to")
	fs.IntVar(&o.APIPort, "https-listen-port", o.APIPort, "loopback port on this machine that forwards to the lab's API server")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "directory that holds every lab's state, logs and credentials")
	fs.StringVar(&o.ImagesDir, "images-dir", o.ImagesDir, "directory with image content the lab cannot make, shared by every lab: put an executable agnhost here for the e2e-test-images/agnhost image (default <data-dir>/images)")
	fs.StringVar(&o.kubeconfigModeText, "write-kubeconfig-mode", o.kubeconfigModeText, "file mode of the admin kubeconfig (0644 lets weft kubectl work without sudo)")
}

// Complete parses the text flags. It never stops at the first problem: every error is returned, each naming its flag.
func (o *Options) Complete() error {
	var errs []error
	var err error
	if o.ClusterCIDRs, err = parseCIDRList("--cluster-cidr", o.clusterCIDRText); err != nil {
		errs = append(errs, err)
	}
	if o.ServiceCIDRs, err = parseCIDRList("--service-cidr", o.serviceCIDRText); err != nil {
		errs = append(errs, err)
	}
	if o.clusterDNSText != "" {
		if o.ClusterDNS, err = netip.ParseAddr(o.clusterDNSText); err != nil {
			errs = append(errs, fmt.Errorf("--cluster-dns %q is not an IP address: give one address inside --service-cidr, e.g. 10.43.0.10", o.clusterDNSText))
		}
	} else if len(o.ServiceCIDRs) > 0 {
		o.ClusterDNS = nthAddr(o.ServiceCIDRs[0], 10)
	}
	if mode, err := strconv.ParseUint(o.kubeconfigModeText, 8, 32); err != nil || mode > 0o777 {
		errs = append(errs, fmt.Errorf("--write-kubeconfig-mode %q is not an octal file mode: use e.g. 0600 or 0644", o.kubeconfigModeText))
	} else {
		o.KubeconfigMode = os.FileMode(mode)
	}
	return errors.Join(errs...)
}

func parseCIDRList(flag, text string) ([]netip.Prefix, error) {
	ps, err := cidr.ParseList(strings.Split(text, ","))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return ps, nil
}

var labName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$`)

// reservedNets are the lab's own networks; the cluster's ranges must stay clear of them.
var reservedNets = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("192.168.1.0/24"), "the lab LAN"},
	{netip.MustParsePrefix("192.168.2.0/24"), "the lab's external subnet"},
	{netip.MustParsePrefix("192.168.3.0/24"), "the lab's second external subnet"},
	{netip.MustParsePrefix("fd00:c0a8::/32"), "the lab LAN's IPv6 ranges"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local addresses"},
	{netip.MustParsePrefix("fe80::/10"), "link-local addresses"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Validate checks the completed options and returns every problem at once.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !labName.MatchString(o.Name) {
		add("--name %q: use 1 to 16 lowercase letters, digits or '-', starting and ending with a letter or digit", o.Name)
	}
	if o.Nodes < 1 || o.Nodes > maxNodes {
		add("--nodes %d: a lab has 1 to %d nodes", o.Nodes, maxNodes)
	}
	if o.Zones < 0 || o.Zones > o.Nodes || o.Zones > maxZones {
		add("--zones %d: use 0 (no zones) up to the number of nodes (%d), at most %d", o.Zones, o.Nodes, maxZones)
	}
	if !slices.Contains(overlay.Backends, o.Backend) {
		add("--backend %q: use one of %s", o.Backend, strings.Join(overlay.Backends, ", "))
	}
	if o.WireGuardKeyRotation != 0 && (o.Backend != overlay.BackendWireGuard || o.WireGuardKeyRotation < 10*time.Second) {
		add("--wireguard-key-rotation %s: give 10s or more, with --backend wireguard", o.WireGuardKeyRotation)
	}
	if !slices.Contains(Policies, o.Policy) {
		add("--policy %q: use one of %s", o.Policy, strings.Join(Policies, ", "))
	}
	if !slices.Contains(Proxies, o.Proxy) {
		add("--proxy %q: use one of %s", o.Proxy, strings.Join(Proxies, ", "))
	}
	if !slices.Contains(AgentModes, o.Agent) {
		add("--agent %q: use one of %s", o.Agent, strings.Join(AgentModes, ", "))
	}
	if o.MTU != 0 && (o.MTU < 1280 || o.MTU > 1500) {
		add("--mtu %d: use 1280 (IPv6's minimum) to 1500 (the lab LAN's MTU), or leave it out to detect it", o.MTU)
	}
	if _, err := cidr.ParseList(o.LBPools); err != nil {
		add("--lb-pool: %w", err)
	}
	if _, err := cidr.ParseList(o.NoMasqueradeCIDRs); err != nil {
		add("--no-masquerade-cidr: %w", err)
	}
	if o.APIPort < 1 || o.APIPort > 65535 {
		add("--https-listen-port %d: pick a port between 1 and 65535", o.APIPort)
	}
	if !filepath.IsAbs(o.DataDir) {
		add("--data-dir %q: give an absolute path", o.DataDir)
	}
	if o.ImagesDir != "" && !filepath.IsAbs(o.ImagesDir) {
		add("--images-dir %q: give an absolute path", o.ImagesDir)
	}
	if o.ClusterDomain == "" || strings.HasPrefix(o.ClusterDomain, ".") || strings.HasSuffix(o.ClusterDomain, ".") {
		add("--cluster-domain %q: give a domain such as cluster.local, without leading or trailing dots", o.ClusterDomain)
	}
	errs = append(errs, o.validateFamilies("--cluster-cidr", o.ClusterCIDRs)...)
	errs = append(errs, o.validateFamilies("--service-cidr", o.ServiceCIDRs)...)
	if len(o.ClusterCIDRs) > 0 && len(o.ServiceCIDRs) > 0 && !sameFamilies(o.ClusterCIDRs, o.ServiceCIDRs) {
		add("--cluster-cidr %s and --service-cidr %s have different address families: give both the same families (one IPv4, one IPv6, or one of each)", cidr.Join(o.ClusterCIDRs), cidr.Join(o.ServiceCIDRs))
	}
	for _, c := range o.ClusterCIDRs {
		errs = append(errs, o.validateClusterCIDR(c)...)
	}
	for _, s := range o.ServiceCIDRs {
		errs = append(errs, validateServiceCIDR(s)...)
	}
	errs = append(errs, checkOverlaps(o.ClusterCIDRs, o.ServiceCIDRs)...)
	if o.ClusterDNS.IsValid() && len(o.ServiceCIDRs) > 0 {
		errs = append(errs, o.validateClusterDNS()...)
	}
	return errors.Join(errs...)
}

func (o *Options) validateFamilies(flag string, ps []netip.Prefix) []error {
	switch {
	case len(ps) == 0:
		return nil // parse error already reported
	case len(ps) > 2:
		return []error{fmt.Errorf("%s %s: give at most two ranges, one IPv4 and one IPv6", flag, cidr.Join(ps))}
	case len(ps) == 2 && ps[0].Addr().Is4() == ps[1].Addr().Is4():
		return []error{fmt.Errorf("%s %s: both ranges are the same family; dual-stack needs one IPv4 and one IPv6 range", flag, cidr.Join(ps))}
	}
	return nil
}

func (o *Options) validateClusterCIDR(c netip.Prefix) []error {
	mask, flag := o.NodeCIDRMaskSizeV4, "--node-cidr-mask-size-ipv4"
	if c.Addr().Is6() {
		mask, flag = o.NodeCIDRMaskSizeV6, "--node-cidr-mask-size-ipv6"
	}
	if mask <= c.Bits() || mask > c.Addr().BitLen()-2 {
		return []error{fmt.Errorf("--cluster-cidr %s is too small for %s=%d: each node's podCIDR must fit inside it; use a larger range such as /16 (IPv4) or /56 (IPv6), or change %s", c, flag, mask, flag)}
	}
	// The controller-manager's allocator refuses more than 16 bits of node index.
	if mask-c.Bits() > 16 {
		return []error{fmt.Errorf("--cluster-cidr %s with %s=%d gives 2^%d node ranges; the node IPAM allows at most 2^16: use a smaller range or a shorter %s", c, flag, mask, mask-c.Bits(), flag)}
	}
	if capacity := 1 << (mask - c.Bits()); o.Nodes > capacity {
		return []error{fmt.Errorf("--nodes %d: --cluster-cidr %s holds only %d node ranges of /%d; use a larger --cluster-cidr or fewer nodes", o.Nodes, c, capacity, mask)}
	}
	return nil
}

func validateServiceCIDR(s netip.Prefix) []error {
	bits := s.Addr().BitLen()
	// At least 16 addresses: the kubernetes service, cluster DNS and room for a few services.
	if s.Bits() > bits-4 {
		return []error{fmt.Errorf("--service-cidr %s is too small: give at least a /%d", s, bits-4)}
	}
	// kube-apiserver's allocator refuses ranges wider than 20 bits.
	if s.Bits() < bits-20 {
		return []error{fmt.Errorf("--service-cidr %s is too large: the API server accepts at most /%d for this family", s, bits-20)}
	}
	return nil
}

func checkOverlaps(cluster, service []netip.Prefix) []error {
	var errs []error
	for _, c := range cluster {
		for _, s := range service {
			if c.Overlaps(s) {
				errs = append(errs, fmt.Errorf("--cluster-cidr %s overlaps --service-cidr %s: pick ranges that do not overlap", c, s))
			}
		}
	}
	for _, flagged := range []struct {
		flag string
		ps   []netip.Prefix
	}{{"--cluster-cidr", cluster}, {"--service-cidr", service}} {
		for _, p := range flagged.ps {
			for _, r := range reservedNets {
				if p.Overlaps(r.prefix) {
					errs = append(errs, fmt.Errorf("%s %s overlaps %s (%s): pick another range", flagged.flag, p, r.prefix, r.what))
				}
			}
		}
	}
	return errs
}

func (o *Options) validateClusterDNS() []error {
	for _, s := range o.ServiceCIDRs {
		if !s.Contains(o.ClusterDNS) {
			continue
		}
		if o.ClusterDNS == s.Addr() || o.ClusterDNS == s.Addr().Next() {
			return []error{fmt.Errorf("--cluster-dns %s is the network address or the kubernetes service's address in %s: use e.g. %s", o.ClusterDNS, s, nthAddr(s, 10))}
		}
		return nil
	}
	return []error{fmt.Errorf("--cluster-dns %s is outside --service-cidr %s: use an address inside it, e.g. %s", o.ClusterDNS, cidr.Join(o.ServiceCIDRs), nthAddr(o.ServiceCIDRs[0], 10))}
}

func sameFamilies(a, b []netip.Prefix) bool {
	fam := func(ps []netip.Prefix) (v4, v6 bool) {
		for _, p := range ps {
			if p.Addr().Is4() {
				v4 = true
			} else {
				v6 = true
			}
		}
		return
	}
	a4, a6 := fam(a)
	b4, b6 := fam(b)
	return a4 == b4 && a6 == b6
}

// nthAddr is the n-th address of a prefix (n=1 is the first host address).
func nthAddr(p netip.Prefix, n int) netip.Addr {
	a := p.Addr()
	for range n {
		a = a.Next()
	}
	return a
}
