package lab

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/install"
)

// How the lab runs weft's agent on its nodes.
const (
	// AgentDaemonSet installs weft as a user does (`weft install`): the agents are the pods of
	// the DaemonSet in deploy/, which the node runtimes run, and weft-cni comes from its init
	// container.
	AgentDaemonSet = "daemonset"
	// AgentProcess has each node runtime start `weft agent` beside it, with a kubeconfig of
	// its own: simpler to debug, and the agent is up before any controller.
	AgentProcess = "process"
)

// AgentModes are the accepted values of --agent.
var AgentModes = []string{AgentProcess, AgentDaemonSet}

// agentMode is the plan's mode; plans older than the flag ran agents as processes.
func (p Plan) agentMode() string {
	if p.Agent == "" {
		return AgentProcess
	}
	return p.Agent
}

// AgentDescription says how the nodes run weft's agent, for `weft lab up`.
func (p Plan) AgentDescription() string {
	if p.agentMode() == AgentDaemonSet {
		return "the pods of DaemonSet kube-system/" + install.DaemonSetName + ", installed from deploy/ as `weft install` does"
	}
	return "a process beside each node runtime (--agent process)"
}

// nodeAgentArgs are the node runtime's flags that start the agent beside it (process mode), or
// that make it take CNI plugins only from /opt/cni/bin, where the DaemonSet installs weft-cni.
func (p Plan) nodeAgentArgs(agentKubeconfig string) []string {
	if p.agentMode() == AgentDaemonSet {
		return []string{"--cni-bin-dir=/opt/cni/bin"}
	}
	return append([]string{
		"--run-agent",
		"--agent-kubeconfig=" + agentKubeconfig,
		"--agent-arg=--cluster-cidr=" + cidr.Join(p.ClusterCIDRs),
		"--agent-arg=--service-cidr=" + cidr.Join(p.ServiceCIDRs),
		// The lab repairs quickly, so a learner who deletes a route sees it come back.
		"--agent-arg=--resync=10s",
	}, p.agentArgs()...)
}

// installOptions are `weft install`'s options for this lab: the same choices the process mode
// hands each agent as flags.
func (p Plan) installOptions() install.Options {
	o := install.Defaults()
	o.ClusterCIDR, o.ServiceCIDR = cidr.Join(p.ClusterCIDRs), cidr.Join(p.ServiceCIDRs)
	o.Backend, o.ClusterDomain = p.Backend, p.ClusterDomain
	o.APIServer = p.LANAPIServer()
	if p.KubeProxyMode() != "" {
		o.Proxy = "none"
	}
	if !p.weftPolicy() {
		o.Policy = "none"
	}
	o.AgentArgs = []string{"--resync=10s"}
	for _, a := range p.agentArgs() {
		flag := strings.TrimPrefix(a, "--agent-arg=")
		name, _, _ := strings.Cut(flag, "=")
		if !slices.Contains([]string{"--cluster-domain", "--proxy", "--policy"}, name) { // set by the ConfigMap
			o.AgentArgs = append(o.AgentArgs, flag)
		}
	}
	return o
}

// installWeft applies the manifests with the admin's credentials, as a user's `weft install`.
func installWeft(ctx context.Context, p Plan, adminKubeconfig string, log io.Writer) error {
	o := p.installOptions()
	if err := o.Validate(); err != nil {
		return fmt.Errorf("weft install options for the lab: %w", err)
	}
	objs, err := install.Render(o)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", adminKubeconfig)
	if err != nil {
		return err
	}
	cfg.UserAgent = "weft-lab-install"
	c, err := install.NewClients(cfg)
	if err != nil {
		return err
	}
	return c.Apply(ctx, objs, log)
}

// waitAgents waits for the DaemonSet's pod on every node to be ready.
func waitAgents(ctx context.Context, p Plan, adminKubeconfig string, timeout time.Duration, log io.Writer) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", adminKubeconfig)
	if err != nil {
		return err
	}
	c, err := install.NewClients(cfg)
	if err != nil {
		return err
	}
	if err := install.WaitDaemonSet(ctx, c.Kube, install.DaemonSetName, timeout, log); err != nil {
		var tails string
		for _, n := range p.Nodes {
			tails += logTail(p.StateDir, n.Name, 3)
		}
		return fmt.Errorf("%w%s", err, tails)
	}
	return nil
}
