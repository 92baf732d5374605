package egressroute

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Validate names every problem of a spec, each with its field and the fix. cluster holds the
// cluster's pod and service ranges (nil skips that check).
//
// The CRD's CEL rules refuse most of this at the API server already; the agent checks again
// because CEL cannot know the cluster's ranges, an object may predate a stricter CRD, and a
// half-understood object must never reach the kernel.
//
// A destination inside a cluster range is refused: pods and services are reached directly.
// A destination that contains one (0.0.0.0/0: all egress through a firewall) is accepted, and
// the data plane never reroutes traffic to the cluster ranges.
func Validate(spec *Spec, cluster []netip.Prefix) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(spec.Destinations) == 0 {
		bad("destinations: give at least one network, such as 192.168.3.0/24")
	}
	seen := map[netip.Prefix]int{}
	var dsts []indexed
	for i, d := range spec.Destinations {
		field := fmt.Sprintf("destinations[%d]", i)
		p, err := netip.ParsePrefix(d)
		switch {
		case err != nil || p.Addr().Zone() != "":
			bad("%s: %q is not a network; write one such as 192.168.3.0/24 or 2001:db8:3::/64", field, d)
			continue
		case p.Addr().Is4In6():
			bad("%s: %q is an IPv4-mapped IPv6 network; write the IPv4 network %s", field, d, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked())
			continue
		case p != p.Masked():
			bad("%s: %q has bits set past the prefix length; write %s", field, d, p.Masked())
			continue
		case p.Addr().IsLoopback() || p.Addr().IsMulticast() || p.Addr().IsLinkLocalMulticast():
			bad("%s: %s is a loopback or multicast range, which no router forwards", field, p)
			continue
		}
		if j, dup := seen[p]; dup {
			bad("%s: %s is destinations[%d] again; list it once", field, p, j)
			continue
		}
		seen[p] = i
		dsts = append(dsts, indexed{i, p})
		for _, c := range cluster {
			if c.Addr().Is4() == p.Addr().Is4() && c.Bits() <= p.Bits() && c.Contains(p.Addr()) {
				bad("%s: %s is inside the cluster's own range %s, whose pods and services are reached directly, never through a next hop", field, p, c)
			}
		}
	}

	if spec.Via == "" && spec.Interface == "" {
		bad("via, interface: give via (a next-hop address such as 192.168.1.1), interface (a node interface such as eth1), or both")
	}
	if spec.Via != "" {
		errs = append(errs, validateVia(spec, dsts)...)
	}
	if spec.Interface != "" {
		if msg := checkInterfaceName(spec.Interface); msg != "" {
			bad("interface: %q %s; give a node interface name such as eth1", spec.Interface, msg)
		}
	}
	for _, s := range []struct {
		field string
		sel   *metav1.LabelSelector
	}{{"namespaceSelector", spec.NamespaceSelector}, {"podSelector", spec.PodSelector}} {
		if _, err := metav1.LabelSelectorAsSelector(s.sel); err != nil {
			bad("%s: %v", s.field, err)
		}
	}
	return errs
}

// indexed is a parsed destination and its place in the list, for messages.
type indexed struct {
	i int
	p netip.Prefix
}

// validateVia checks the next hop on its own and against the destinations' families.
func validateVia(spec *Spec, dsts []indexed) []error {
	via, err := netip.ParseAddr(spec.Via)
	switch {
	case err != nil:
		return []error{fmt.Errorf("via: %q is not an IP address; give the next hop's address, such as 192.168.1.1 or fe80::1", spec.Via)}
	case via.Zone() != "":
		return []error{fmt.Errorf("via: %q carries a zone; give the address alone and the interface in interface", spec.Via)}
	case via.Is4In6():
		return []error{fmt.Errorf("via: %q is an IPv4-mapped IPv6 address; write %s", spec.Via, via.Unmap())}
	case via.IsUnspecified() || via.IsLoopback() || via.IsMulticast():
		return []error{fmt.Errorf("via: %s is not a router's address (unspecified, loopback or multicast)", via)}
	}
	var errs []error
	if via.IsLinkLocalUnicast() && spec.Interface == "" {
		errs = append(errs, fmt.Errorf("via: %s is link-local, which is ambiguous without its link; give interface too", via))
	}
	for _, d := range dsts {
		if d.p.Addr().Is4() != via.Is4() {
			errs = append(errs, fmt.Errorf("via: %s is %s but destinations[%d] %s is %s; a next hop routes only its own family, so make one EgressRoute per family, or give interface without via",
				via, familyName(via), d.i, d.p, familyName(d.p.Addr())))
		}
	}
	return errs
}

// checkInterfaceName says what the kernel would refuse in a link name, or "".
func checkInterfaceName(name string) string {
	switch {
	case len(name) > 15:
		return "is longer than 15 characters"
	case name == "." || name == "..":
		return "is not a name"
	case strings.ContainsFunc(name, func(r rune) bool { return r == '/' || r == ':' || unicode.IsSpace(r) }):
		return "contains '/', ':' or white space"
	}
	return ""
}

func familyName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
