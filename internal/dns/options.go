package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/pflag"
)

// Options configure the node's DNS server.
type Options struct {
	// Mode is weft (this node answers the cluster DNS addresses) or none (another DNS, such
	// as CoreDNS behind the kube-dns Service, does).
	Mode string
	// Domain is the cluster domain (K3s's and the kubelet's --cluster-domain).
	Domain string
	// TTL is the TTL of the cluster's own records, and the SOA minimum of its negative answers.
	TTL time.Duration
	// Upstreams answer every name outside the cluster domain (default: the nameservers of
	// ResolvConf).
	Upstreams  []string
	ResolvConf string
	// Service is the Service whose cluster IPs this node answers (namespace/name);
	// Addresses are more of them, for a cluster without that Service.
	Service   string
	Addresses []string
	// StubZones send a zone's names to its own resolvers: zone=addr, repeatable.
	StubZones []string
	// Log writes one line per query.
	Log bool
	// CacheSize is how many forwarded answers are kept; CacheMaxTTL caps how long.
	CacheSize   int
	CacheMaxTTL time.Duration
	// Handover is the abstract unix socket name through which an exiting agent's bridge hands
	// the DNS sockets to the next agent ("": the sockets close with the process).
	Handover string
	// Kubeconfig is the agent's, for the bridge it starts on its way out ("": in-cluster).
	Kubeconfig string
}

// Defaults are K3s's domain, CoreDNS's usual 5 s TTL (the spec leaves it open) and the kube-dns
// Service every cluster's pods are pointed at.
func Defaults() Options {
	return Options{Mode: "weft", Domain: "cluster.local", TTL: 5 * time.Second, ResolvConf: "/etc/resolv.conf",
		Service: "kube-system/kube-dns", CacheSize: 10000, CacheMaxTTL: 5 * time.Minute, Handover: "weft-dns-handover"}
}

// AddFlags binds the options.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Mode, "dns", o.Mode, "cluster DNS: weft (this node answers the kube-dns Service's addresses itself) or none (CoreDNS or another serves them)")
	fs.StringVar(&o.Domain, "cluster-domain", o.Domain, "the cluster's DNS domain")
	fs.DurationVar(&o.TTL, "dns-ttl", o.TTL, "TTL of the cluster's own DNS records")
	fs.StringSliceVar(&o.Upstreams, "dns-upstream", o.Upstreams, "resolvers for names outside the cluster domain, ADDR or ADDR:PORT (default: the nameservers in --dns-resolv-conf)")
	fs.StringVar(&o.ResolvConf, "dns-resolv-conf", o.ResolvConf, "the node's resolv.conf, whose nameservers are the default upstream resolvers")
	fs.StringVar(&o.Service, "dns-service", o.Service, "namespace/name of the Service whose cluster IPs this node answers DNS at")
	fs.StringSliceVar(&o.Addresses, "dns-address", o.Addresses, "more addresses to answer DNS at, for a cluster without that Service")
	fs.StringArrayVar(&o.StubZones, "dns-stub-zone", o.StubZones, "ZONE=ADDR: names in ZONE go to the resolver at ADDR (or ADDR:PORT) instead of the upstream ones; repeatable, also for more resolvers of one zone")
	fs.BoolVar(&o.Log, "dns-log", o.Log, "log every DNS query with its answer code and duration")
	fs.IntVar(&o.CacheSize, "dns-cache-size", o.CacheSize, "how many forwarded answers the DNS cache keeps (0: no cache)")
	fs.DurationVar(&o.CacheMaxTTL, "dns-cache-max-ttl", o.CacheMaxTTL, "longest time a forwarded answer is cached, whatever its TTL")
	fs.StringVar(&o.Handover, "dns-handover", o.Handover, "abstract unix socket name through which a restarting agent hands its DNS sockets to the next one, so no question is lost (empty: off)")
}

// Validate names every problem.
func (o *Options) Validate() error {
	var errs []error
	if o.Mode != "weft" && o.Mode != "none" {
		errs = append(errs, fmt.Errorf("--dns %q: use weft or none", o.Mode))
	}
	if _, ok := dns.IsDomainName(o.Domain); !ok || o.Domain == "" || o.Domain == "." {
		errs = append(errs, fmt.Errorf("--cluster-domain %q: give a domain such as cluster.local", o.Domain))
	}
	if o.TTL < time.Second || o.TTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--dns-ttl %s: use 1s to 24h", o.TTL))
	}
	for _, u := range o.Upstreams {
		if _, err := upstreamAddr(u); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := parseStubZones(o.StubZones); err != nil {
		errs = append(errs, err)
	}
	if ns, name, ok := strings.Cut(o.Service, "/"); !ok || ns == "" || name == "" {
		errs = append(errs, fmt.Errorf("--dns-service %q: give namespace/name, such as kube-system/kube-dns", o.Service))
	}
	for _, a := range o.Addresses {
		if _, err := netip.ParseAddr(strings.TrimSpace(a)); err != nil {
			errs = append(errs, fmt.Errorf("--dns-address %q: give an IP address such as 10.43.0.10", a))
		}
	}
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("--dns-cache-size %d: give 0 (no cache) or more", o.CacheSize))
	}
	if o.CacheMaxTTL < 0 {
		errs = append(errs, fmt.Errorf("--dns-cache-max-ttl %s: give a duration such as 5m", o.CacheMaxTTL))
	}
	return errors.Join(errs...)
}

// upstreamAddr turns ADDR or ADDR:PORT into ADDR:PORT, port 53 by default.
func upstreamAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	return "", fmt.Errorf("--dns-upstream %q: give an address such as 192.168.1.1 or [fd00::1]:53", s)
}

// parseStubZones reads ZONE=ADDR flags into resolvers by zone (lower case, fully qualified).
func parseStubZones(flags []string) (map[string][]string, error) {
	out := map[string][]string{}
	var errs []error
	for _, f := range flags {
		zone, addr, ok := strings.Cut(f, "=")
		if _, isName := dns.IsDomainName(zone); !ok || zone == "" || !isName {
			errs = append(errs, fmt.Errorf("--dns-stub-zone %q: give ZONE=ADDR, such as corp.example=10.0.0.53", f))
			continue
		}
		up, err := upstreamAddr(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("--dns-stub-zone %q: give ZONE=ADDR, such as corp.example=10.0.0.53", f))
			continue
		}
		z := dns.CanonicalName(zone)
		out[z] = append(out[z], up)
	}
	return out, errors.Join(errs...)
}
