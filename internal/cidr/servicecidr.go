package cidr

import (
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
)

// OfServiceCIDRs are the ranges of ServiceCIDR objects: the first one, which the API server
// makes from its --service-cluster-ip-range, and those added at run time. A range that does not
// parse is skipped: the API server validates them, so there is nothing a reader could do.
func OfServiceCIDRs(objs []*networkingv1.ServiceCIDR) []netip.Prefix {
	var out []netip.Prefix
	for _, o := range objs {
		for _, s := range o.Spec.CIDRs {
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, p.Masked())
			}
		}
	}
	return out
}
