package lab

import (
	"slices"
	"strings"
	"testing"
)

func TestKubeProxyArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // every one must be among the flags
		not  []string // no flag may start with one of these
	}{
		{"nftables IPv4", []string{"--proxy=kube-proxy-nftables"},
			[]string{"--proxy-mode=nftables", "--cluster-cidr=10.42.0.0/16", "--hostname-override=node-2", "--healthz-bind-address=0.0.0.0:10256", "--conntrack-max-per-core=0"},
			[]string{"--iptables-localhost-nodeports"}},
		{"iptables dual-stack", []string{"--proxy=kube-proxy-iptables", "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56", "--service-cidr=10.43.0.0/16,2001:cafe:43::/112"},
			[]string{"--proxy-mode=iptables", "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56", "--healthz-bind-address=[::]:10256", "--iptables-localhost-nodeports=false", "--conntrack-max-per-core=0", "--nodeport-addresses=primary"},
			nil},
		{"nftables IPv6", []string{"--proxy=kube-proxy-nftables", "--cluster-cidr=2001:cafe:42::/56", "--service-cidr=2001:cafe:43::/112"},
			[]string{"--cluster-cidr=2001:cafe:42::/56", "--healthz-bind-address=[::]:10256", "--metrics-bind-address=127.0.0.1:10249"},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := completed(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			p := NewPlan(o)
			args := p.kubeProxyArgs(p.Nodes[1], "/k")
			if args[0] != "kube-proxy" || !slices.Contains(args, "--kubeconfig=/k") {
				t.Errorf("args %v do not run kube-proxy with its kubeconfig", args)
			}
			for _, w := range tc.want {
				if !slices.Contains(args, w) {
					t.Errorf("args %v lack %s", args, w)
				}
			}
			for _, n := range tc.not {
				for _, a := range args {
					if strings.HasPrefix(a, n) {
						t.Errorf("args carry %s", a)
					}
				}
			}
			if !slices.Contains(p.agentArgs(), "--agent-arg=--proxy=none") {
				t.Errorf("agent args %v: the agent's own proxy must be off beside kube-proxy", p.agentArgs())
			}
		})
	}
}

func TestWeftProxyIsTheDefault(t *testing.T) {
	o, err := completed(t)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlan(o)
	if p.KubeProxyMode() != "" || slices.Contains(p.agentArgs(), "--agent-arg=--proxy=none") {
		t.Errorf("default lab: kube-proxy mode %q, agent args %v; want weft's proxy", p.KubeProxyMode(), p.agentArgs())
	}
	// A plan written before --proxy existed has none, and means weft's proxy.
	p.Proxy = ""
	if p.KubeProxyMode() != "" || !strings.HasPrefix(p.ProxyDescription(), "weft") {
		t.Errorf("a plan without proxy reads as %q", p.ProxyDescription())
	}
}
