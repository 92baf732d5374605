package podfiles

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits the API server and the kubelet put on a pod's resolver config; they
// come from glibc's resolver.
const (
	maxNameservers     = 3
	maxSearchDomains   = 32
	maxSearchLineChars = 2048
	// maxSearchDomainLen drops names some glibc versions abort() on.
	maxSearchDomainLen = validation.DNS1123SubdomainMaxLength
	// maxResolvConfSize bounds the node's file.
	maxResolvConfSize = 10 << 20
)

// resolver is a parsed or composed resolv.conf. Options are "name" or
// "name:value", one entry per name.
type resolver struct {
	servers, searches, options []string
}

// ResolvConf renders the pod's /etc/resolv.conf.
//
// clusterDNS and clusterDomain are the kubelet's --cluster-dns and
// --cluster-domain; nodeResolvConf is the content of its --resolv-conf file.
// The node file is parsed for every policy, and a parse error (a nameserver
// line without an address) fails every policy, as it does in the kubelet.
//
//   - ClusterFirst (also an empty policy, the API default), and
//     ClusterFirstWithHostNet: nameservers are clusterDNS only; search is
//     "<ns>.svc.<domain> svc.<domain> <domain>" then the node's search list,
//     deduplicated; options are "ndots:5" (the node's options are dropped).
//     ClusterFirst on a hostNetwork pod, or with no clusterDNS, behaves as
//     Default.
//   - Default: the node's nameservers, last search line and options.
//   - None: only spec.dnsConfig.
//
// spec.dnsConfig is then appended: nameservers and searches deduplicated
// keeping the first occurrence, options merged by name with the pod's value
// winning. Finally the kubelet's limits apply: the first 3 nameservers; the
// first 32 search domains, minus any longer than 253 characters, minus
// trailing domains until the line fits 2048 characters.
//
// The output is what containerd writes: "search a b\n", one "nameserver x\n"
// per server, "options a b\n", each only when non-empty. When all three are
// empty the runtime copies the node's file instead, and so does this.
//
// The kubelet takes option order from Go map iteration, which is random; here
// options keep the position where their name first appeared. The kubelet's
// --resolv-conf="" mode (nameserver 127.0.0.1, search ".") is not modelled.
//
// Invalid input gets an error naming the field: the pod's DNS fields are
// checked as the API server checks them (dnsPolicy None without
// dnsConfig.nameservers, more than 3 nameservers, a bad IP, ...), and
// clusterDNS entries must be IP addresses.
func ResolvConf(pod *corev1.Pod, clusterDNS []string, clusterDomain string, nodeResolvConf []byte) ([]byte, error) {
	if err := validatePodDNS(pod); err != nil {
		return nil, err
	}
	servers := make([]string, 0, len(clusterDNS))
	for i, s := range clusterDNS {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("clusterDNS[%d]: %q is not an IP address", i, s)
		}
		servers = append(servers, ip.String())
	}
	node, err := parseResolvConf(nodeResolvConf)
	if err != nil {
		return nil, err
	}

	var r resolver
	switch policy := pod.Spec.DNSPolicy; {
	case policy == corev1.DNSNone:
	case len(servers) > 0 && (policy == corev1.DNSClusterFirstWithHostNet ||
		(policy == corev1.DNSClusterFirst || policy == "") && !pod.Spec.HostNetwork):
		r = resolver{
			servers:  servers,
			searches: clusterSearches(pod.Namespace, clusterDomain, node.searches),
			options:  []string{"ndots:5"},
		}
	default:
		r = node
	}

	if c := pod.Spec.DNSConfig; c != nil {
		r.servers = dedupe(append(r.servers, c.Nameservers...))
		r.searches = dedupe(append(r.searches, c.Searches...))
		r.options = mergeOptions(r.options, c.Options)
	}
	if len(r.servers) > maxNameservers {
		r.servers = r.servers[:maxNameservers]
	}
	r.searches = fitSearches(r.searches)

	if len(r.servers) == 0 && len(r.searches) == 0 && len(r.options) == 0 {
		return bytes.Clone(nodeResolvConf), nil
	}
	var b bytes.Buffer
	if len(r.searches) > 0 {
		b.WriteString("search " + strings.Join(r.searches, " ") + "\n")
	}
	for _, s := range r.servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(r.options) > 0 {
		b.WriteString("options " + strings.Join(r.options, " ") + "\n")
	}
	return b.Bytes(), nil
}

// parseResolvConf reads resolv.conf the way the kubelet does: lines split on
// "\n" and trimmed; "#" lines skipped; "nameserver" lines accumulate (the
// first word after the keyword only); the last "search" line wins, with "."
// dropped and a trailing dot removed from each domain; "options" from all
// lines merge by name, later values winning. Other lines are ignored.
func parseResolvConf(data []byte) (resolver, error) {
	// The kubelet's bounded read fails once it has read the whole limit.
	if len(data) >= maxResolvConfSize {
		return resolver{}, fmt.Errorf("node resolv.conf: %d bytes or more", maxResolvConfSize)
	}
	var r resolver
	var opts optionSet
	var errs []error
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				errs = append(errs, fmt.Errorf("node resolv.conf line %d: nameserver without an address", i+1))
				continue
			}
			r.servers = append(r.servers, f[1])
		case "search":
			r.searches = nil
			for _, s := range f[1:] {
				if s != "." {
					r.searches = append(r.searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			for _, o := range f[1:] {
				name, _, _ := strings.Cut(o, ":")
				opts.set(name, o)
			}
		}
	}
	r.options = opts.list
	return r, errors.Join(errs...)
}

func clusterSearches(namespace, clusterDomain string, nodeSearches []string) []string {
	if clusterDomain == "" {
		return nodeSearches
	}
	s := []string{namespace + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain}
	return dedupe(append(s, nodeSearches...))
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// optionSet keeps resolver options in first-seen order, one per name.
type optionSet struct {
	list []string       // "name" or "name:value"
	at   map[string]int // name → index in list
}

// set replaces the option called name in place, or appends it.
func (s *optionSet) set(name, option string) {
	if i, ok := s.at[name]; ok {
		s.list[i] = option
		return
	}
	if s.at == nil {
		s.at = map[string]int{}
	}
	s.at[name] = len(s.list)
	s.list = append(s.list, option)
}

// mergeOptions applies the pod's dnsConfig.options. Like the kubelet it
// re-renders every option, so an existing "name:" loses its colon.
func mergeOptions(existing []string, pod []corev1.PodDNSConfigOption) []string {
	var s optionSet
	for _, o := range existing {
		name, value, _ := strings.Cut(o, ":")
		s.set(name, renderOption(name, value))
	}
	for _, o := range pod {
		value := ""
		if o.Value != nil {
			value = *o.Value
		}
		s.set(o.Name, renderOption(o.Name, value))
	}
	return s.list
}

func renderOption(name, value string) string {
	if value == "" {
		return name
	}
	return name + ":" + value
}

// fitSearches applies the kubelet's search-line limits in its order: count,
// then per-domain length, then total length by dropping from the end.
func fitSearches(s []string) []string {
	if len(s) > maxSearchDomains {
		s = s[:maxSearchDomains]
	}
	kept := s[:0:0]
	for _, d := range s {
		if len(d) <= maxSearchDomainLen {
			kept = append(kept, d)
		}
	}
	total := len(strings.Join(kept, " "))
	for total > maxSearchLineChars && len(kept) > 0 {
		total -= len(kept[len(kept)-1]) + 1
		kept = kept[:len(kept)-1]
	}
	return kept
}

// validatePodDNS checks spec.dnsPolicy and spec.dnsConfig as the API server
// does, so a pod that never went through it still fails loudly.
func validatePodDNS(pod *corev1.Pod) error {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	policy := pod.Spec.DNSPolicy
	switch policy {
	case "", corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault, corev1.DNSNone:
	default:
		errs = append(errs, field.NotSupported(spec.Child("dnsPolicy"), policy, []corev1.DNSPolicy{
			corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}))
	}
	path := spec.Child("dnsConfig")
	c := pod.Spec.DNSConfig
	if policy == corev1.DNSNone {
		if c == nil {
			return field.Required(path, "must provide `dnsConfig` when `dnsPolicy` is None")
		}
		if len(c.Nameservers) == 0 {
			return field.Required(path.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")
		}
	}
	if c != nil {
		if len(c.Nameservers) > maxNameservers {
			errs = append(errs, field.Invalid(path.Child("nameservers"), c.Nameservers, fmt.Sprintf("must not have more than %d nameservers", maxNameservers)))
		}
		for i, ns := range c.Nameservers {
			errs = append(errs, validation.IsValidIPForLegacyField(path.Child("nameservers").Index(i), ns, false, nil)...)
		}
		if len(c.Searches) > maxSearchDomains {
			errs = append(errs, field.Invalid(path.Child("searches"), c.Searches, fmt.Sprintf("must not have more than %d search paths", maxSearchDomains)))
		}
		if len(strings.Join(c.Searches, " ")) > maxSearchLineChars {
			errs = append(errs, field.Invalid(path.Child("searches"), c.Searches, fmt.Sprintf("must not have more than %d characters (including spaces) in the search list", maxSearchLineChars)))
		}
		for i, s := range c.Searches {
			if s == "." {
				continue
			}
			for _, msg := range validation.IsDNS1123SubdomainWithUnderscore(strings.TrimSuffix(s, ".")) {
				errs = append(errs, field.Invalid(path.Child("searches").Index(i), s, msg))
			}
		}
		for i, o := range c.Options {
			if o.Name == "" {
				errs = append(errs, field.Required(path.Child("options").Index(i), "must not be empty"))
			}
		}
	}
	return errs.ToAggregate()
}
