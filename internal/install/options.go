// Package install puts weft on a cluster the way a user does: it renders the manifests in
// deploy/ (embedded in the binary) with the cluster's options, applies them with server-side
// apply, waits for every node's agent, reads back what each agent publishes, and removes it all
// again, having every node clean up after itself. The lab installs weft through it too.
package install

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/overlay"
)

// Options are what differs from one cluster to the next. Names follow K3s and the agent.
type Options struct {
	ClusterCIDR   string
	ServiceCIDR   string
	Backend       string
	Proxy         string
	DNS           string
	Policy        string
	ClusterDomain string
	Image         string
	// APIServer is the API server as the nodes reach it, https://HOST:PORT: the agent cannot
	// use the kubernetes Service's cluster IP, which only its own proxy serves.
	APIServer string
	// AgentArgs are more agent flags, appended to its command.
	AgentArgs []string
	// Timeout bounds the wait for every agent to be ready (0: do not wait).
	Timeout time.Duration
}

// DefaultImage is the image the manifests name.
const DefaultImage = "ghcr.io/weftnet/weft:latest"

// Defaults are K3s's ranges and weft's own choices.
func Defaults() Options {
	return Options{ClusterCIDR: "10.42.0.0/16", ServiceCIDR: "10.43.0.0/16", Backend: overlay.BackendVXLAN,
		Proxy: "weft", DNS: "weft", Policy: "weft", ClusterDomain: "cluster.local", Image: DefaultImage, Timeout: 5 * time.Minute}
}

// AddFlags binds the options to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", o.ClusterCIDR, "the cluster's pod ranges (kube-controller-manager --cluster-cidr): one, or an IPv4 and an IPv6 range separated by a comma")
	fs.StringVar(&o.ServiceCIDR, "service-cidr", o.ServiceCIDR, "the cluster's service ranges (kube-apiserver --service-cluster-ip-range), same families as --cluster-cidr")
	fs.StringVar(&o.Backend, "backend", o.Backend, "how pods reach pods on other nodes: "+strings.Join(overlay.Backends, ", "))
	fs.StringVar(&o.Proxy, "proxy", o.Proxy, "service proxy: weft (replaces kube-proxy: remove kube-proxy first) or none (kube-proxy stays)")
	fs.StringVar(&o.DNS, "dns", o.DNS, "cluster DNS: weft (every node answers the kube-dns Service's addresses) or none")
	fs.StringVar(&o.Policy, "policy", o.Policy, "NetworkPolicy and ClusterNetworkPolicy enforcement: weft (nftables) or none (another enforcer)")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "the kubelets' --cluster-domain")
	fs.StringVar(&o.Image, "image", o.Image, "weft's image")
	fs.StringVar(&o.APIServer, "api-server", o.APIServer, "the API server as the nodes reach it, https://HOST:PORT (default: the kubeconfig's server, unless that is a loopback address)")
	fs.StringArrayVar(&o.AgentArgs, "agent-arg", o.AgentArgs, "one more flag for every agent, e.g. --agent-arg=--mtu=1400; repeatable")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for every node's agent to be ready (0: do not wait)")
}

// configMapFlags are the agent flags the ConfigMap sets: --agent-arg may not set them again.
var configMapFlags = []string{"--node-name", "--cluster-cidr", "--service-cidr", "--backend", "--proxy", "--dns", "--policy", "--cluster-domain"}

// Validate names every problem with the flag that has it and what to give instead.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	clusterCIDRs, cerr := parseRanges("--cluster-cidr", o.ClusterCIDR)
	serviceCIDRs, serr := parseRanges("--service-cidr", o.ServiceCIDR)
	errs = append(errs, cerr, serr)
	if cerr == nil && serr == nil {
		if families(clusterCIDRs) != families(serviceCIDRs) {
			add("--cluster-cidr %s and --service-cidr %s have different address families: give both the same families", o.ClusterCIDR, o.ServiceCIDR)
		}
		for _, c := range clusterCIDRs {
			for _, s := range serviceCIDRs {
				if c.Overlaps(s) {
					add("--cluster-cidr %s overlaps --service-cidr %s: give ranges that do not overlap", c, s)
				}
			}
		}
	}
	if !slices.Contains(overlay.Backends, o.Backend) {
		add("--backend %q: use one of %s", o.Backend, strings.Join(overlay.Backends, ", "))
	}
	if o.Proxy != "weft" && o.Proxy != "none" {
		add("--proxy %q: use weft or none", o.Proxy)
	}
	if o.DNS != "weft" && o.DNS != "none" {
		add("--dns %q: use weft or none", o.DNS)
	}
	if o.Policy != "weft" && o.Policy != "none" {
		add("--policy %q: use weft or none", o.Policy)
	}
	if msgs := validation.IsDNS1123Subdomain(o.ClusterDomain); len(msgs) > 0 {
		add("--cluster-domain %q: %s; give a domain such as cluster.local", o.ClusterDomain, strings.Join(msgs, "; "))
	}
	if o.Image == "" || strings.ContainsAny(o.Image, " \t\n") {
		add("--image %q: give an image reference such as %s", o.Image, DefaultImage)
	}
	if o.APIServer != "" {
		if _, _, err := apiServerHostPort(o.APIServer); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range o.AgentArgs {
		name, _, _ := strings.Cut(a, "=")
		switch {
		case !strings.HasPrefix(a, "--"):
			add("--agent-arg %q: give one agent flag, e.g. --agent-arg=--mtu=1400", a)
		case slices.Contains(configMapFlags, name):
			add("--agent-arg %q: %s is set from its own option; use weft install %s instead", a, name, name)
		}
	}
	if o.Timeout < 0 {
		add("--timeout %s: give a positive duration, or 0 not to wait", o.Timeout)
	}
	return errors.Join(errs...)
}

func parseRanges(flag, text string) ([]netip.Prefix, error) {
	ps, err := cidr.ParseList(strings.Split(text, ","))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s %q: %w", flag, text, err)
	case len(ps) == 0 || len(ps) > 2:
		return nil, fmt.Errorf("%s %q: give one range, or an IPv4 and an IPv6 range separated by a comma", flag, text)
	case len(ps) == 2 && ps[0].Addr().Is4() == ps[1].Addr().Is4():
		return nil, fmt.Errorf("%s %q: both ranges are the same family; dual-stack needs one IPv4 and one IPv6 range", flag, text)
	}
	return ps, nil
}

func families(ps []netip.Prefix) string {
	var f []string
	for _, p := range ps {
		f = append(f, map[bool]string{true: "4", false: "6"}[p.Addr().Is4()])
	}
	slices.Sort(f)
	return strings.Join(f, "")
}

// apiServerHostPort splits --api-server into what the agent's in-cluster configuration reads.
func apiServerHostPort(server string) (string, string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("--api-server %q: give the API server's URL as https://HOST:PORT", server)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("--api-server %q: the port must be 1 to 65535", server)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "", "", fmt.Errorf("--api-server %q is a loopback address, which no node's agent can reach: give the API server's address on the nodes' network", server)
	}
	return host, port, nil
}
