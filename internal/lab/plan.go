package lab

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"
)

// maxNodes keeps node addresses inside the LAN's /24 (nodes start at .11).
const maxNodes = 200

// maxZones keeps zone names to one letter: zone-a to zone-z.
const maxZones = 26

// The lab's fixed addressing, mirroring K3s's usual setups: nodes on 192.168.1.0/24 behind a router at .1,
// an external subnet 192.168.2.0/24 that only the nodes can route to, and a site subnet
// 192.168.3.0/24 behind a second router at .254 that nothing routes to until someone declares it
// (an EgressRoute). The IPv6 twins embed the IPv4 octets (c0a8 = 192.168) so an address reads the
// same in both families.
var (
	LANv4      = netip.MustParsePrefix("192.168.1.0/24")
	LANv6      = netip.MustParsePrefix("fd00:c0a8:1::/64")
	ExternalV4 = netip.MustParsePrefix("192.168.2.0/24")
	ExternalV6 = netip.MustParsePrefix("fd00:c0a8:2::/64")
	SiteV4     = netip.MustParsePrefix("192.168.3.0/24")
	SiteV6     = netip.MustParsePrefix("fd00:c0a8:3::/64")
	// PublicV4/V6 is a second subnet on the LAN for nodes' ExternalIPs (--use-external-ip).
	PublicV4 = netip.MustParsePrefix("192.168.10.0/24")
	PublicV6 = netip.MustParsePrefix("fd00:c0a8:a::/64")
)

// Host is one network namespace of the lab with its addresses.
type Host struct {
	Name  string     `json:"name"`
	NetNS string     `json:"netns"`
	IPv4  netip.Addr `json:"ipv4"`
	IPv6  netip.Addr `json:"ipv6,omitzero"`
}

// Node is a lab node: a host whose InternalIPs follow the cluster's families in --cluster-cidr order.
type Node struct {
	Host
	InternalIPs []netip.Addr `json:"internalIPs"`
	// ExternalIPs, with --use-external-ip, are on the LAN's second subnet; peers reach the node there.
	ExternalIPs []netip.Addr `json:"externalIPs,omitempty"`
	// Zone, with --zones, is the node's topology.kubernetes.io/zone.
	Zone string `json:"zone,omitempty"`
}

// Plan is a lab fully worked out from its options: every name and address. It is written to the
// state directory so that status and down need nothing else.
type Plan struct {
	Name               string         `json:"name"`
	StateDir           string         `json:"stateDir"`
	DataDir            string         `json:"dataDir"`
	ImagesDir          string         `json:"imagesDir,omitempty"`
	ClusterCIDRs       []netip.Prefix `json:"clusterCIDRs"`
	ServiceCIDRs       []netip.Prefix `json:"serviceCIDRs"`
	ClusterDNS         netip.Addr     `json:"clusterDNS"`
	ClusterDomain      string         `json:"clusterDomain"`
	NodeCIDRMaskSizeV4 int            `json:"nodeCIDRMaskSizeIPv4"`
	NodeCIDRMaskSizeV6 int            `json:"nodeCIDRMaskSizeIPv6"`
	APIPort            int            `json:"apiPort"`
	Backend            string         `json:"backend"`
	MTU                int            `json:"mtu,omitempty"`
	// WireGuardKeyRotation is the agents' periodic key rotation (wireguard backend).
	WireGuardKeyRotation time.Duration `json:"wireguardKeyRotation,omitempty"`
	LBPools              []string      `json:"lbPools,omitempty"`
	NoMasqueradeCIDRs    []string      `json:"noMasqueradeCIDRs,omitempty"`
	IPv6Masquerade       bool          `json:"ipv6Masquerade,omitempty"`
	Proxy                string        `json:"proxy,omitempty"`  // empty in plans older than the flag: weft
	Agent                string        `json:"agent,omitempty"`  // empty in plans older than the flag: process
	Policy               string        `json:"policy,omitempty"` // empty in plans older than the flag: weft
	KubeconfigMode       uint32        `json:"kubeconfigMode"`
	LAN                  Host          `json:"lan"`
	Router               Host          `json:"router"`
	ControlPlane         Host          `json:"controlPlane"`
	Nodes                []Node        `json:"nodes"`
	External             *Host         `json:"external,omitempty"`
	Router2              *Host         `json:"router2,omitempty"`
	Site                 *Host         `json:"site,omitempty"`
}

// NewPlan works out names and addresses. The options must have passed Validate.
func NewPlan(o Options) Plan {
	v6 := hasV6(o.ClusterCIDRs)
	host := func(role string, octet int) Host {
		h := Host{Name: role, NetNS: NetNSName(o.Name, role), IPv4: hostAddr(LANv4, octet)}
		if v6 {
			h.IPv6 = hostAddr(LANv6, octet)
		}
		return h
	}
	p := Plan{
		Name:                 o.Name,
		DataDir:              o.DataDir,
		StateDir:             StateDir(o.DataDir, o.Name),
		ImagesDir:            ImagesDir(o.DataDir, o.ImagesDir),
		ClusterCIDRs:         o.ClusterCIDRs,
		ServiceCIDRs:         o.ServiceCIDRs,
		ClusterDNS:           o.ClusterDNS,
		ClusterDomain:        o.ClusterDomain,
		NodeCIDRMaskSizeV4:   o.NodeCIDRMaskSizeV4,
		NodeCIDRMaskSizeV6:   o.NodeCIDRMaskSizeV6,
		APIPort:              o.APIPort,
		Backend:              o.Backend,
		MTU:                  o.MTU,
		WireGuardKeyRotation: o.WireGuardKeyRotation,
		LBPools:              o.LBPools,
		NoMasqueradeCIDRs:    o.NoMasqueradeCIDRs,
		IPv6Masquerade:       o.IPv6Masquerade,
		Proxy:                o.Proxy,
		Agent:                o.Agent,
		Policy:               o.Policy,
		KubeconfigMode:       uint32(o.KubeconfigMode),
		LAN:                  Host{Name: "lan", NetNS: NetNSName(o.Name, "lan")},
		Router:               host("router", 1),
		ControlPlane:         host("control-plane", 2),
	}
	for i := 1; i <= o.Nodes; i++ {
		n := Node{Host: host(fmt.Sprintf("node-%d", i), 10+i), Zone: zoneName(i, o.Zones)}
		for _, c := range o.ClusterCIDRs {
			if c.Addr().Is4() {
				n.InternalIPs = append(n.InternalIPs, n.IPv4)
			} else {
				n.InternalIPs = append(n.InternalIPs, n.IPv6)
			}
			if o.UseExternalIP {
				pub := PublicV4
				if c.Addr().Is6() {
					pub = PublicV6
				}
				n.ExternalIPs = append(n.ExternalIPs, hostAddr(pub, 10+i))
			}
		}
		p.Nodes = append(p.Nodes, n)
	}
	if len(p.LBPools) == 0 {
		// Inside the LAN, clear of the nodes (.11 up), router2 (.254) and the examples' .200.
		p.LBPools = []string{"192.168.1.224/28"}
		if v6 {
			p.LBPools = append(p.LBPools, "fd00:c0a8:1::220/124")
		}
	}
	if o.ExternalSubnet {
		ext := Host{Name: "external", NetNS: NetNSName(o.Name, "external"), IPv4: hostAddr(ExternalV4, 10)}
		if v6 {
			ext.IPv6 = hostAddr(ExternalV6, 10)
		}
		p.External = &ext
		r2 := host("router2", 254)
		site := Host{Name: "site", NetNS: NetNSName(o.Name, "site"), IPv4: hostAddr(SiteV4, 10)}
		if v6 {
			site.IPv6 = hostAddr(SiteV6, 10)
		}
		p.Router2, p.Site = &r2, &site
	}
	return p
}

// APIServerAddress is the address the API server advertises: the family of the first service
// range, because the kubernetes Service's endpoint must be of its primary family.
func (p Plan) APIServerAddress() netip.Addr {
	if p.ServiceCIDRs[0].Addr().Is6() {
		return p.ControlPlane.IPv6
	}
	return p.ControlPlane.IPv4
}

// NetNSNames lists every network namespace the lab creates, in creation order.
func (p Plan) NetNSNames() []string {
	names := []string{p.LAN.NetNS, p.Router.NetNS, p.ControlPlane.NetNS}
	for _, n := range p.Nodes {
		names = append(names, n.NetNS)
	}
	for _, h := range []*Host{p.External, p.Router2, p.Site} {
		if h != nil {
			names = append(names, h.NetNS)
		}
	}
	return names
}

// hosts are the lab's namespaces that are not nodes and have addresses: routers, control
// plane and the hosts outside the cluster.
func (p Plan) hosts() []Host {
	out := []Host{p.Router, p.ControlPlane}
	for _, h := range []*Host{p.Router2, p.External, p.Site} {
		if h != nil {
			out = append(out, *h)
		}
	}
	return out
}

// HasIPv6 tells whether the lab LAN carries IPv6: it does when the cluster has an IPv6 range.
func (p Plan) HasIPv6() bool { return hasV6(p.ClusterCIDRs) }

// ImagesDir is the images directory: the one given, or <data dir>/images.
func ImagesDir(dataDir, given string) string {
	if given != "" {
		return given
	}
	return filepath.Join(dataDir, "images")
}

// StateDir is where one lab keeps its state, logs and credentials.
func StateDir(dataDir, name string) string { return filepath.Join(dataDir, "labs", name) }

// NetNSName is the name under /run/netns of one of a lab's namespaces; the prefix keeps labs apart.
func NetNSName(lab, role string) string { return "weft-" + lab + "-" + role }

func hasV6(ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}

// hostAddr gives host number n in a /24 or /64. In IPv6 the decimal digits of n are reused as hex
// digits, so node-1 is 192.168.1.11 and fd00:c0a8:1::11.
func hostAddr(p netip.Prefix, n int) netip.Addr {
	if p.Addr().Is4() {
		b := p.Addr().As4()
		b[3] = byte(n)
		return netip.AddrFrom4(b)
	}
	v, _ := strconv.ParseUint(strconv.Itoa(n), 16, 16)
	b := p.Addr().As16()
	b[14], b[15] = byte(v>>8), byte(v)
	return netip.AddrFrom16(b)
}

// zoneName is node i's zone when the lab has zones: zone-a, zone-b, ... in turn ("" without).
func zoneName(i, zones int) string {
	if zones == 0 {
		return ""
	}
	return fmt.Sprintf("zone-%c", 'a'+(i-1)%zones)
}
