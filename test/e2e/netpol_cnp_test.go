package e2e

import "fmt"

// cnpYAML is a ClusterNetworkPolicy manifest; spec is indented by two spaces.
func cnpYAML(name, tier string, priority int, spec string) string {
	return fmt.Sprintf("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: %s}\nspec:\n  tier: %s\n  priority: %d\n%s---\n", name, tier, priority, spec)
}

const subjectX = "  subject: {namespaces: {matchLabels: {ns: \"x\"}}}\n"

// cnpCases are the ClusterNetworkPolicy cases: the tiers around NetworkPolicy, priorities,
// first match, Accept, Deny and Pass, and the kinds of peers and ports.
func cnpCases() []netpolCase {
	one := func(name, policies string, allow func(f, t peer, port string) bool) netpolCase {
		return netpolCase{name: name, steps: []step{{apply: policies, allow: allow}}}
	}
	return []netpolCase{
		{name: "cnp-example-deny-z-to-x", steps: []step{{run: func(m *netpolLab) { m.kubectl("apply", "-f", "../../examples/cluster-network-policy.yaml") },
			allow: func(f, t peer, _ string) bool { return t.ns() != "x" || f.ns() != "z" }}}},
		one("cnp-admin-deny-beats-networkpolicy-allow",
			np("x", "all", "  podSelector: {}\n  ingress: [{}]\n")+
				cnpYAML("deny-z", "Admin", 10, subjectX+"  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: \"z\"}}}]}]\n"),
			func(f, t peer, _ string) bool { return t.ns() != "x" || f.ns() != "z" }),
		one("cnp-admin-accept-beats-networkpolicy-deny",
			np("x", "deny", "  podSelector: {}\n")+
				cnpYAML("accept-y", "Admin", 10, subjectX+"  ingress: [{action: Accept, from: [{namespaces: {matchLabels: {ns: \"y\"}}}]}]\n"),
			func(f, t peer, _ string) bool { return t.ns() != "x" || f.ns() == "y" }),
		one("cnp-pass-to-networkpolicy",
			np("x", "from-y", "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n")+
				cnpYAML("pass-y-80", "Admin", 5, subjectX+"  ingress: [{action: Pass, from: [{namespaces: {matchLabels: {ns: \"y\"}}}], protocols: [{tcp: {destinationPort: {number: 80}}}]}]\n")+
				cnpYAML("deny-y", "Admin", 10, subjectX+"  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: \"y\"}}}]}]\n"),
			func(f, t peer, port string) bool { return t.ns() != "x" || (f.ns() == "y" && port == "80") }),
		one("cnp-baseline-after-networkpolicy",
			np("x", "a-from-z", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"z\"}}}]}]\n")+
				cnpYAML("baseline-deny", "Baseline", 10, subjectX+"  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n"),
			func(f, t peer, _ string) bool { return t.ns() != "x" || (t == "x/a" && f.ns() == "z") }),
		one("cnp-priority-first-match",
			cnpYAML("deny-z", "Admin", 20, subjectX+"  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: \"z\"}}}]}]\n")+
				cnpYAML("accept-za", "Admin", 10, subjectX+"  ingress: [{action: Accept, from: [{pods: {namespaceSelector: {matchLabels: {ns: \"z\"}}, podSelector: {matchLabels: {pod: \"a\"}}}}]}]\n"),
			func(f, t peer, _ string) bool { return t.ns() != "x" || f.ns() != "z" || f == "z/a" }),
		one("cnp-rules-in-order",
			cnpYAML("ordered", "Admin", 10, subjectX+"  ingress:\n  - {action: Accept, from: [{namespaces: {matchLabels: {ns: \"z\"}}}], protocols: [{udp: {destinationPort: {number: 80}}}]}\n  - {action: Deny, from: [{namespaces: {matchLabels: {ns: \"z\"}}}]}\n"),
			func(f, t peer, port string) bool { return t.ns() != "x" || f.ns() != "z" || port == "u80" }),
		one("cnp-egress-named-port-and-range",
			cnpYAML("egress", "Admin", 10, subjectX+"  egress:\n  - {action: Deny, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: \"b\"}}}}], protocols: [{destinationNamedPort: serve-81-tcp}]}\n  - {action: Deny, to: [{namespaces: {matchLabels: {ns: \"z\"}}}], protocols: [{tcp: {destinationPort: {range: {start: 79, end: 80}}}}]}\n"),
			func(f, t peer, port string) bool {
				return f.ns() != "x" || !((t.name() == "b" && port == "81") || (t.ns() == "z" && port == "80"))
			}),
	}
}
