package install

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/agent"
)

// staleAfter is how old an agent's last heartbeat may be before status calls it stopped: the
// agent refreshes its Lease at least every 30 s while it syncs.
const staleAfter = 2 * time.Minute

// NodeStatus is one node as `weft status` shows it.
type NodeStatus struct {
	Node      string
	Agent     agent.Status
	Heartbeat time.Time
	// Problems include what status itself sees: no agent, a stale heartbeat.
	Problems []string
}

// Status reads every Node and what its agent last published.
func (c *Clients) Status(ctx context.Context, now time.Time) ([]NodeStatus, error) {
	nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Nodes: %w", err)
	}
	leases, err := c.Kube.CoordinationV1().Leases(agent.StatusNamespace).List(ctx, metav1.ListOptions{LabelSelector: agent.StatusLabel + "=" + agent.StatusLabelValue})
	if err != nil {
		return nil, fmt.Errorf("list the agents' status Leases in %s: %w", agent.StatusNamespace, err)
	}
	return nodeStatuses(nodes.Items, leases.Items, now), nil
}

func nodeStatuses(nodes []corev1.Node, leases []coordinationv1.Lease, now time.Time) []NodeStatus {
	byName := map[string]*coordinationv1.Lease{}
	for i := range leases {
		byName[leases[i].Name] = &leases[i]
	}
	var out []NodeStatus
	for _, n := range nodes {
		ns := NodeStatus{Node: n.Name}
		lease := byName[agent.StatusLeaseName(n.Name)]
		if lease == nil {
			ns.Problems = []string{"no weft agent has reported from this node"}
			out = append(out, ns)
			continue
		}
		st, err := agent.ParseStatus(lease)
		if err != nil {
			ns.Problems = []string{err.Error()}
		}
		ns.Agent = st
		if lease.Spec.RenewTime != nil {
			ns.Heartbeat = lease.Spec.RenewTime.Time
		}
		if age := now.Sub(ns.Heartbeat); age > staleAfter {
			ns.Problems = append(ns.Problems, fmt.Sprintf("the agent has not reported for %s: is it running?", age.Truncate(time.Second)))
		}
		ns.Problems = append(ns.Problems, st.Problems...)
		out = append(out, ns)
	}
	slices.SortFunc(out, func(a, b NodeStatus) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// PrintStatus writes one line per node, and says how many have problems.
func PrintStatus(out io.Writer, nodes []NodeStatus, now time.Time) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tVERSION\tBACKEND\tPROXY\tDNS\tLAST SYNC\tPROBLEMS")
	bad := 0
	for _, n := range nodes {
		sync := "never"
		if !n.Agent.LastSync.IsZero() {
			sync = now.Sub(n.Agent.LastSync).Truncate(time.Second).String() + " ago"
		}
		problems := "none"
		if len(n.Problems) > 0 {
			problems = strings.Join(n.Problems, "; ")
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Node, dash(n.Agent.Version), dash(n.Agent.Backend), dash(n.Agent.Proxy), dash(n.Agent.DNS), sync, problems)
	}
	tw.Flush()
	fmt.Fprintf(out, "\n%d node(s), %d with problems\n", len(nodes), bad)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
