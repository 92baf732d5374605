package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/controlplane"
	"github.com/weftnet/weft/internal/kubenode"
)

// Status prints what a lab is made of and how it is doing: its endpoint, ranges, namespaces,
// node states from the API server, and the supervised processes.
func Status(dataDir, name string, out io.Writer) error {
	p, err := LoadPlan(dataDir, name)
	if err != nil {
		return err
	}
	pid, running := supervisorRunning(p.StateDir)
	state := fmt.Sprintf("running (supervisor pid %d)", pid)
	if !running {
		state = "NOT RUNNING: its supervisor is gone; `sudo weft lab down --name " + name + "` cleans up"
	}
	kubeconfig := AdminKubeconfig(p.StateDir)
	fmt.Fprintf(out, "lab %q: %s\n", p.Name, state)
	fmt.Fprintf(out, "state directory: %s (logs in %s/logs)\n", p.StateDir, p.StateDir)
	fmt.Fprintf(out, "API server:      https://127.0.0.1:%d (on the lab LAN: https://%s)\n", p.APIPort,
		net.JoinHostPort(p.APIServerAddress().String(), strconv.Itoa(controlplane.APIServerPort)))
	fmt.Fprintf(out, "kubeconfig:      %s\n", kubeconfig)
	fmt.Fprintf(out, "cluster CIDR:    %s\nservice CIDR:    %s\ncluster DNS:     %s (%s)\n",
		cidr.Join(p.ClusterCIDRs), cidr.Join(p.ServiceCIDRs), p.ClusterDNS, p.ClusterDomain)
	fmt.Fprintf(out, "service proxy:   %s\n\n", p.ProxyDescription())

	nodes := map[string]corev1.Node{}
	apiNote := ""
	if running {
		if client, err := adminClient(kubeconfig); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			cancel()
			if err != nil {
				apiNote = "(API server not answering: " + err.Error() + ")"
			} else {
				for _, n := range list.Items {
					nodes[n.Name] = n
				}
			}
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tNETNS\tADDRESSES\tSTATUS\tPODCIDRS")
	for _, n := range p.Nodes {
		status, cidrs := "unknown", "-"
		if apiNode, ok := nodes[n.Name]; ok {
			status = map[bool]string{true: "Ready", false: "NotReady"}[kubenode.Ready(&apiNode)]
			cidrs = strings.Join(apiNode.Spec.PodCIDRs, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, n.NetNS, hostAddrs(n.Host), status, cidrs)
	}
	tw.Flush()
	if apiNote != "" {
		fmt.Fprintln(out, apiNote)
	}

	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tNETNS\tADDRESSES")
	fmt.Fprintf(tw, "%s\t%s\t%s\n", p.LAN.Name, p.LAN.NetNS, "bridge br0 (no address)")
	for _, h := range []Host{p.Router, p.ControlPlane} {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", h.Name, h.NetNS, hostAddrs(h))
	}
	if p.External != nil {
		fmt.Fprintf(tw, "%s\t%s\t%s (HTTP on port 80; nodes route to it)\n", p.External.Name, p.External.NetNS, hostAddrs(*p.External))
	}
	if p.Router2 != nil {
		fmt.Fprintf(tw, "%s\t%s\t%s (routes to %s; nothing routes to it by default)\n", p.Router2.Name, p.Router2.NetNS, hostAddrs(*p.Router2), SiteV4)
		fmt.Fprintf(tw, "%s\t%s\t%s (HTTP on port 80; reachable once an EgressRoute sends it via router2)\n", p.Site.Name, p.Site.NetNS, hostAddrs(*p.Site))
	}
	tw.Flush()

	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESS\tPID\tRESTARTS\tNETNS\tLOG")
	for _, pi := range loadProcesses(p.StateDir) {
		pidText := strconv.Itoa(pi.PID)
		if pi.PID == 0 || !running {
			pidText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", pi.Name, pidText, pi.Restarts, pi.NetNS, pi.Log)
	}
	return tw.Flush()
}

func hostAddrs(h Host) string {
	var s []string
	for _, a := range []netip.Addr{h.IPv4, h.IPv6} {
		if a.IsValid() {
			s = append(s, a.String())
		}
	}
	return strings.Join(s, ", ")
}
