package podfiles

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// FuzzResolvConf feeds arbitrary node resolv.conf files through the Default
// and ClusterFirst policies and checks the output keeps the kubelet's limits
// and containerd's line format.
func FuzzResolvConf(f *testing.F) {
	f.Add(nodeResolv)
	f.Add("")
	f.Add("nameserver\n")
	f.Add("nameserver 1.1.1.1\r\nsearch a. . b\r\noptions ndots:1 ndots:2 a:b:c\r\n")
	f.Add("# comment\n;semi\ndomain x\n")
	f.Add("search " + strings.Repeat("abcdefghij.example ", 300) + "\n")
	f.Add("nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\nnameserver 4.4.4.4\n")
	f.Add("options\nsearch\nnameserver \x00\n\u0085search x\u00a0y\n")
	f.Fuzz(func(t *testing.T, node string) {
		for _, pol := range []corev1.DNSPolicy{corev1.DNSDefault, corev1.DNSClusterFirst} {
			out, err := ResolvConf(dnsPod(pol), []string{"10.96.0.10"}, "cluster.local", []byte(node))
			if err != nil {
				if !strings.Contains(err.Error(), "node resolv.conf") {
					t.Fatalf("%s: error not about the node file: %v", pol, err)
				}
				continue
			}
			if bytes.Equal(out, []byte(node)) && pol == corev1.DNSDefault {
				continue // nothing usable: the runtime copies the node file
			}
			checkRendered(t, pol, string(out))
		}
	})
}

func checkRendered(t *testing.T, pol corev1.DNSPolicy, out string) {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("%s: output %q does not end in a newline", pol, out)
	}
	var servers, searchLines, optionLines int
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.Join(f, " ") != line {
			t.Fatalf("%s: malformed line %q in %q", pol, line, out)
		}
		switch f[0] {
		case "nameserver":
			servers++
			if len(f) != 2 {
				t.Fatalf("%s: nameserver line %q", pol, line)
			}
		case "search":
			searchLines++
			if len(f)-1 > maxSearchDomains || len(line)-len("search ") > maxSearchLineChars {
				t.Fatalf("%s: search line over the limits: %d domains, %d chars", pol, len(f)-1, len(line))
			}
			for _, d := range f[1:] {
				if len(d) > maxSearchDomainLen {
					t.Fatalf("%s: search domain of %d chars", pol, len(d))
				}
			}
		case "options":
			optionLines++
		default:
			t.Fatalf("%s: unexpected line %q", pol, line)
		}
	}
	if servers > maxNameservers || searchLines > 1 || optionLines > 1 {
		t.Fatalf("%s: %d nameservers, %d search and %d options lines", pol, servers, searchLines, optionLines)
	}
	if pol == corev1.DNSClusterFirst {
		if !strings.HasPrefix(out, "search default.svc.cluster.local svc.cluster.local cluster.local") ||
			!strings.HasSuffix(out, "\nnameserver 10.96.0.10\noptions ndots:5\n") {
			t.Fatalf("ClusterFirst output %q", out)
		}
	}
}
