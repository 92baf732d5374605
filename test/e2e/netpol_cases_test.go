package e2e

import (
	"fmt"
	"slices"
)

type netpolCase struct {
	name  string
	steps []step
}

// np is a NetworkPolicy manifest; spec is its spec, indented by four spaces per level below it.
func np(ns, name, spec string) string {
	return fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: %s, namespace: %q}\nspec:\n%s---\n", name, ns, spec)
}

func all(peer, peer, string) bool { return true }

// in says whether p is one of the pods named.
func in(p peer, pods ...string) bool { return slices.Contains(pods, string(p)) }

// netpolCases are the cases, each with every matrix it expects. They reach the features of
// the API one by one: defaulting of policyTypes, both directions, every kind of peer and how
// peers combine, ports by number, range and name, each protocol, stacked policies, and
// policies, pods and namespaces changing at run time.
func netpolCases(m *netpolLab) []netpolCase {
	xa := peer("x/a")
	ipb := func(p peer) string { // both of a pod's addresses as single-address ipBlocks
		return fmt.Sprintf("    - ipBlock: {cidr: %s/32}\n    - ipBlock: {cidr: %s/128}\n", m.ip(p, "4"), m.ip(p, "6"))
	}
	one := func(name, policies string, allow func(f, t peer, port string) bool) netpolCase {
		return netpolCase{name: name, steps: []step{{apply: policies, allow: allow}}}
	}
	return []netpolCase{
		one("no-policy", "", all),
		one("deny-all-ingress", np("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
			func(f, t peer, _ string) bool { return t.ns() != "x" }),
		one("deny-all-ingress-defaulted-types", np("x", "deny", "  podSelector: {}\n"),
			func(f, t peer, _ string) bool { return t.ns() != "x" }),
		one("deny-all-egress", np("x", "deny", "  podSelector: {}\n  policyTypes: [Egress]\n"),
			func(f, t peer, _ string) bool { return f.ns() != "x" }),
		one("deny-all-both", np("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"),
			func(f, t peer, _ string) bool { return f.ns() != "x" && t.ns() != "x" }),
		one("allow-all-ingress", np("x", "all", "  podSelector: {}\n  ingress: [{}]\n"), all),
		one("allow-all-egress", np("x", "all", "  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{}]\n"), all),
		one("egress-only-ignores-ingress-rules", np("x", "e", "  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{}]\n  ingress: [{from: [{podSelector: {matchLabels: {pod: \"none\"}}}]}]\n"), all),
		one("egress-rules-default-both-types", np("x", "e", "  podSelector: {matchLabels: {pod: \"a\"}}\n  egress: [{to: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n"),
			func(f, t peer, _ string) bool {
				return t != xa && (f != xa || t.ns() == "y")
			}),
		one("pod-selector-same-namespace", np("x", "from-b", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: \"b\"}}}]}]\n"),
			func(f, t peer, _ string) bool { return t != xa || f == "x/b" }),
		one("empty-pod-selector-peer-is-own-namespace", np("x", "ns", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{podSelector: {}}]}]\n"),
			func(f, t peer, _ string) bool { return t != xa || f.ns() == "x" }),
		one("namespace-selector", np("x", "from-y", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n"),
			func(f, t peer, _ string) bool { return t != xa || f.ns() == "y" }),
		one("all-namespaces", np("x", "any-ns", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n"), all),
		one("namespace-and-pod-in-one-peer", np("x", "and", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: {matchLabels: {pod: \"b\"}}}]}]\n"),
			func(f, t peer, _ string) bool { return t != xa || f == "y/b" }),
		one("namespace-or-pod-as-two-peers", np("x", "or", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}, {podSelector: {matchLabels: {pod: \"b\"}}}]}]\n"),
			func(f, t peer, _ string) bool { return t != xa || f.ns() == "y" || f == "x/b" }),
		one("match-expressions-namespaces", np("x", "expr", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [\"x\"]}]}}]}]\n"),
			func(f, t peer, _ string) bool { return t != xa || f.ns() != "x" }),
		one("match-expressions-pods", np("x", "expr", "  podSelector: {matchExpressions: [{key: pod, operator: In, values: [\"a\", \"c\"]}]}\n  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchExpressions: [{key: pod, operator: Exists}, {key: pod, operator: NotIn, values: [\"a\"]}]}}]}]\n"),
			func(f, t peer, _ string) bool { return !in(t, "x/a", "x/c") || f.name() != "a" }),
		one("port-number", np("x", "p80", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{port: 80}]}]\n"),
			func(f, t peer, port string) bool { return t != xa || port == "80" }),
		one("port-and-namespace", np("x", "y81", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: [{protocol: TCP, port: 81}]}]\n"),
			func(f, t peer, port string) bool { return t != xa || (f.ns() == "y" && port == "81") }),
		one("udp-port", np("x", "udp", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{protocol: UDP, port: 80}]}]\n"),
			func(f, t peer, port string) bool { return t != xa || port == "u80" }),
		one("protocol-without-port", np("x", "tcp", "  podSelector: {}\n  ingress: [{ports: [{protocol: TCP}]}]\n"),
			func(f, t peer, port string) bool { return t.ns() != "x" || port != "u80" }),
		one("end-port", np("x", "range", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{protocol: TCP, port: 79, endPort: 81}]}]\n"),
			func(f, t peer, port string) bool { return t != xa || port != "u80" }),
		one("end-port-excludes", np("x", "range", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{protocol: TCP, port: 81, endPort: 90}]}]\n"),
			func(f, t peer, port string) bool { return t != xa || port == "81" }),
		one("named-port-tcp", np("x", "named", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{port: serve-81-tcp}]}]\n"),
			func(f, t peer, port string) bool { return t != xa || port == "81" }),
		one("named-port-udp", np("x", "named", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{protocol: UDP, port: serve-80-udp}]}]\n"),
			func(f, t peer, port string) bool { return t != xa || port == "u80" }),
		one("named-port-wrong-protocol-matches-nothing", np("x", "named", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{protocol: UDP, port: serve-81-tcp}]}]\n"),
			func(f, t peer, port string) bool { return t != xa }),
		one("ip-block-with-except", np("x", "block", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{ipBlock: {cidr: 10.42.0.0/16, except: ["+m.ip("y/b", "4")+"/32]}}, {ipBlock: {cidr: \"2001:cafe:42::/56\", except: [\""+m.ip("y/b", "6")+"/128\"]}}]}]\n"),
			func(f, t peer, _ string) bool { return t != xa || f != "y/b" }),
		one("ip-block-single-pod", np("x", "block", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress:\n  - from:\n"+ipb("z/c")),
			func(f, t peer, _ string) bool { return t != xa || f == "z/c" }),
		one("egress-to-pod", np("x", "to-yb", "  podSelector: {matchLabels: {pod: \"a\"}}\n  policyTypes: [Egress]\n  egress: [{to: [{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: {matchLabels: {pod: \"b\"}}}]}]\n"),
			func(f, t peer, _ string) bool { return f != xa || t == "y/b" }),
		one("egress-port", np("x", "to-y-80", "  podSelector: {matchLabels: {pod: \"a\"}}\n  policyTypes: [Egress]\n  egress: [{to: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: [{port: 80, protocol: TCP}]}]\n"),
			func(f, t peer, port string) bool { return f != xa || (t.ns() == "y" && port == "80") }),
		one("egress-named-port", np("x", "to-named", "  podSelector: {matchLabels: {pod: \"a\"}}\n  policyTypes: [Egress]\n  egress: [{ports: [{port: serve-81-tcp}]}]\n"),
			func(f, t peer, port string) bool { return f != xa || port == "81" }),
		one("egress-ip-block-except", np("x", "block", "  podSelector: {matchLabels: {pod: \"a\"}}\n  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: 10.42.0.0/16, except: ["+m.ip("z/b", "4")+"/32]}}, {ipBlock: {cidr: \"2001:cafe:42::/56\", except: [\""+m.ip("z/b", "6")+"/128\"]}}]}]\n"),
			func(f, t peer, _ string) bool { return f != xa || t != "z/b" }),
		one("ingress-and-egress", np("x", "both", "  podSelector: {matchLabels: {pod: \"a\"}}\n  policyTypes: [Ingress, Egress]\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n  egress: [{to: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}]}]\n"),
			func(f, t peer, _ string) bool {
				return (t != xa || f.ns() == "y") && (f != xa || t.ns() == "z")
			}),
		one("stacked-union", np("x", "y80", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: [{port: 80}]}]\n")+
			np("x", "z81", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}], ports: [{port: 81}]}]\n"),
			func(f, t peer, port string) bool {
				return t != xa || (f.ns() == "y" && port == "80") || (f.ns() == "z" && port == "81")
			}),
		one("stacked-deny-and-allow", np("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n")+
			np("x", "allow-z", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}]}]\n"),
			func(f, t peer, _ string) bool { return t.ns() != "x" || (t == xa && f.ns() == "z") }),
		one("policies-in-two-namespaces", np("x", "deny", "  podSelector: {}\n")+np("y", "deny-egress", "  podSelector: {matchLabels: {pod: \"c\"}}\n  policyTypes: [Egress]\n"),
			func(f, t peer, _ string) bool { return t.ns() != "x" && f != "y/c" }),
		{name: "policy-updated-and-deleted", steps: []step{
			{apply: np("x", "p", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{port: 80}]}]\n"),
				allow: func(f, t peer, port string) bool { return t != xa || port == "80" }},
			{apply: np("x", "p", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{ports: [{port: 81}]}]\n"),
				allow: func(f, t peer, port string) bool { return t != xa || port == "81" }},
			{run: func(m *netpolLab) { m.kubectl("delete", "networkpolicy", "-n", "x", "p") }, allow: all},
		}},
		{name: "namespace-relabelled", steps: []step{
			{apply: np("x", "from-y", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n"),
				allow: func(f, t peer, _ string) bool { return t != xa || f.ns() == "y" }},
			{run: func(m *netpolLab) { m.kubectl("label", "namespace", "y", "ns=elsewhere", "--overwrite") },
				allow: func(f, t peer, _ string) bool { return t != xa }},
			{run: func(m *netpolLab) { m.kubectl("label", "namespace", "z", "ns=y", "--overwrite") },
				allow: func(f, t peer, _ string) bool { return t != xa || f.ns() == "z" }},
			{run: func(m *netpolLab) {
				m.kubectl("label", "namespace", "y", "ns=y", "--overwrite")
				m.kubectl("label", "namespace", "z", "ns=z", "--overwrite")
			}, allow: func(f, t peer, _ string) bool { return t != xa || f.ns() == "y" }},
		}},
		{name: "pods-relabelled", steps: []step{
			{apply: np("x", "from-b", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: \"b\"}}}]}]\n"),
				allow: func(f, t peer, _ string) bool { return t != xa || f.name() == "b" }},
			{run: func(m *netpolLab) {
				m.kubectl("label", "pod", "-n", "z", "c", "pod=b", "--overwrite")
				m.kubectl("label", "pod", "-n", "x", "a", "pod=subject", "--overwrite")
			}, allow: all},
			{run: func(m *netpolLab) { m.kubectl("label", "pod", "-n", "x", "a", "pod=a", "--overwrite") },
				allow: func(f, t peer, _ string) bool { return t != xa || f.name() == "b" || f == "z/c" }},
			{run: func(m *netpolLab) { m.kubectl("label", "pod", "-n", "z", "c", "pod=c", "--overwrite") },
				allow: func(f, t peer, _ string) bool { return t != xa || f.name() == "b" }},
		}},
	}
}
