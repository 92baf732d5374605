package cidr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Parse reads one network as a flag or a manifest gives it: a prefix with no host bits set
// (10.42.0.0/16, not 10.42.0.1/16, which would leave the reader guessing which was meant).
// Spaces around it are ignored. The error quotes the text and shows the form to use; the caller
// adds the name of the field.
func Parse(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: write it like 10.42.0.0/16 or 2001:cafe:42::/56", s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%s has host bits set: did you mean %s?", p, p.Masked())
	}
	return p, nil
}

// ParseList reads every network of a list (a repeated flag, or a comma-separated one split by
// the caller) with Parse. It reports every bad entry, not only the first, and returns no
// networks then, so nothing is half applied.
func ParseList(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	var errs []error
	for _, s := range ss {
		p, err := Parse(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
