package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkNetpolServices: a connection through a Service is judged like a connection to the
// endpoint it was sent to. x/a admits namespace y only; y's and z's pods, on x/a's node and on
// the other, reach it through its ClusterIP (both families), and those on x/a's node through
// its NodePort there. (A pod's connection to another node's address leaves the cluster network
// and is masqueraded to its node's address, which is what the endpoint's node then judges.)
func checkNetpolServices(t *testing.T, m *netpolLab) {
	m.clearPolicies()
	m.apply(t, `apiVersion: v1
kind: Service
metadata: {name: svc-a, namespace: "x"}
spec:
  type: NodePort
  ipFamilyPolicy: PreferDualStack
  selector: {pod: "a"}
  ports: [{port: 80, targetPort: 80, protocol: TCP}]
`)
	t.Cleanup(func() { m.kubectl("delete", "service", "-n", "x", "svc-a") })
	var svc struct {
		Spec struct {
			ClusterIPs []string
			Ports      []struct{ NodePort int }
		}
	}
	m.kubectlJSON(&svc, "get", "service", "-n", "x", "svc-a")
	var node1 struct {
		Status struct {
			Addresses []struct{ Type, Address string }
		}
	}
	m.kubectlJSON(&node1, "get", "node", "node-1")
	var targets []target
	for _, ip := range svc.Spec.ClusterIPs {
		targets = append(targets, target{key: "clusterip-" + ip, addr: ip, port: "80", want: "a"})
	}
	for _, a := range node1.Status.Addresses {
		if a.Type == "InternalIP" {
			targets = append(targets, target{key: "nodeport-" + a.Address, addr: a.Address, port: strconv.Itoa(svc.Spec.Ports[0].NodePort), want: "a"})
		}
	}
	m.apply(t, np("x", "from-y", "  podSelector: {matchLabels: {pod: \"a\"}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n"))
	for _, from := range []peer{"y/b", "y/c", "z/b", "z/c"} {
		want := from.ns() == "y"
		targets := targets
		if from.name() == "b" { // on node-2
			targets = slices.DeleteFunc(slices.Clone(targets), func(tg target) bool { return strings.HasPrefix(tg.key, "nodeport-") })
		}
		eventually(t, 10*time.Second, "through the Service from "+string(from), func() error {
			got, err := m.probe(from, targets)
			if err != nil {
				return err
			}
			var wrong []string
			for _, tg := range targets {
				if got[tg.key] != want {
					wrong = append(wrong, tg.key)
				}
			}
			if len(wrong) > 0 {
				return fmt.Errorf("%s reached %v: %v, want %v", from, wrong, !want, want)
			}
			return nil
		})
	}
}

// checkNetpolExamples applies the repository's examples as written: deny-all-ingress and
// allow-from-y in x leave x/a reachable from y on TCP 80 only, and the rest of x unreachable.
func checkNetpolExamples(t *testing.T, m *netpolLab) {
	m.clearPolicies()
	for _, f := range []string{"../../examples/netpol-deny-all-ingress.yaml", "../../examples/netpol-allow-from-y.yaml"} {
		if out := m.kubectl("apply", "-n", "x", "-f", f); !strings.Contains(out, "created") {
			t.Errorf("apply %s: %s", f, out)
		}
	}
	m.check(t, expected(func(f, to peer, port string) bool {
		return to.ns() != "x" || (to == "x/a" && f.ns() == "y" && port == "80")
	}))
	m.clearPolicies()
}
