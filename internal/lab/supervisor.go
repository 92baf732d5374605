package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/weftnet/weft/internal/atomicfile"
	"github.com/weftnet/weft/internal/controlplane"
	"github.com/weftnet/weft/internal/install"
)

// supervisor builds a lab and keeps its processes running. It is the body of the hidden
// `weft lab supervise` command, which `weft lab up` starts detached.
type supervisor struct {
	plan     Plan
	self     string
	log      *slog.Logger
	progress *progressWriter
	children []*child
	mu       sync.Mutex
}

// Supervise builds the lab in stateDir, reports each step to progress, and then keeps every
// process running until ctx ends. If building fails, it removes everything it made.
func Supervise(ctx context.Context, stateDir string, apiListener net.Listener, progress *os.File, log *slog.Logger) error {
	plan, err := LoadPlan(filepath.Dir(filepath.Dir(stateDir)), filepath.Base(stateDir))
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the weft binary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, supervisorPID), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	s := &supervisor{plan: plan, self: self, log: log, progress: &progressWriter{f: progress}}
	runCtx, stopForward := context.WithCancel(context.Background())
	defer stopForward()
	go forwardAPI(runCtx, apiListener, plan.ControlPlane.NetNS, controlplane.APIServerPort, log)

	if err := s.build(ctx); err != nil {
		log.Error("lab failed to start", "err", err)
		s.stopAll()
		stopForward()
		if terr := removeResources(plan.DataDir, plan.Name, log); terr != nil {
			log.Error("cleanup after failed start", "err", terr)
		}
		s.progress.fail(err)
		return err
	}
	s.progress.ready()
	<-ctx.Done()
	log.Info("stopping the lab's processes")
	s.stopAll()
	return nil
}

func (s *supervisor) build(ctx context.Context) error {
	p := s.plan
	s.progress.step("creating network namespaces: LAN, router, control plane, %d node(s)%s", len(p.Nodes), map[bool]string{true: ", external host, second router and site host"}[p.External != nil])
	if err := buildTopology(p, func(name string) error { return recordNetNS(p.StateDir, name) }); err != nil {
		return err
	}
	if p.External != nil {
		for _, n := range p.Nodes {
			if err := addStaticRoute(n.NetNS, ExternalV4, p.Router.IPv4); err != nil {
				return err
			}
			if p.HasIPv6() {
				if err := addStaticRoute(n.NetNS, ExternalV6, p.Router.IPv6); err != nil {
					return err
				}
			}
		}
	}

	s.progress.step("generating the cluster CA, certificates and kubeconfigs")
	cp := controlPlaneConfig(p)
	var nodes []controlplane.Node
	for _, n := range p.Nodes {
		nodes = append(nodes, controlplane.Node{Name: n.Name, IPs: n.InternalIPs})
	}
	if err := controlplane.WriteCredentials(cp, endpoints(p), nodes, os.FileMode(p.KubeconfigMode)); err != nil {
		return err
	}
	if p.KubeProxyMode() != "" {
		if err := controlplane.WriteKubeProxyCredentials(cp, endpoints(p).LAN, nodes); err != nil {
			return err
		}
	}

	// The controllers start once the API server is ready: before its RBAC bootstrap they would
	// only fail and wait out a restart back-off. Nodes retry on their own, so they start at once.
	s.progress.step("starting etcd, kube-apiserver and %d node runtime(s)", len(p.Nodes))
	cpNS := p.ControlPlane.NetNS
	s.add(&child{name: "etcd", netns: cpNS, args: append([]string{"etcd"}, cp.EtcdArgs()...)})
	s.add(&child{name: "kube-apiserver", netns: cpNS, args: append([]string{"kube-apiserver"}, cp.APIServerArgs()...)})
	for i := range p.Nodes {
		n := &p.Nodes[i]
		if err := writeNodeResolvConf(p, *n); err != nil {
			return err
		}
		cert, key := cp.NodeServingCert(n.Name)
		s.add(&child{name: n.Name, netns: n.NetNS, node: n, nodeBinds: []string{p.ImagesDir}, args: append([]string{
			"node",
			"--node-name=" + n.Name,
			"--node-ip=" + joinAddrs(n.InternalIPs),
			"--node-external-ip=" + joinAddrs(n.ExternalIPs),
			"--kubeconfig=" + cp.NodeKubeconfig(n.Name),
			"--cluster-dns=" + p.ClusterDNS.String(),
			"--cluster-domain=" + p.ClusterDomain,
			"--backend=" + p.Backend,
			"--tls-cert-file=" + cert,
			"--tls-private-key-file=" + key,
			"--client-ca-file=" + cp.CACert(),
			"--kubelet-api-allowed-users=" + controlplane.KubeletAPIClient,
			"--images-dir=" + p.ImagesDir,
		}, append(nodeLabelArgs(*n), p.nodeAgentArgs(cp.AgentKubeconfig(n.Name))...)...)})
	}
	s.add(&child{name: "router-dns", netns: p.Router.NetNS, args: p.routerDNSArgs()})
	if p.External != nil {
		s.add(&child{name: "external-host", netns: p.External.NetNS, args: []string{"internal", "external-host"}})
	}
	if p.Site != nil {
		s.add(&child{name: "site-host", netns: p.Site.NetNS, args: []string{"internal", "external-host", "--name", "weft lab site host"}})
	}
	if err := s.startPending(); err != nil {
		return err
	}

	s.progress.step("waiting for the API server on https://127.0.0.1:%d", p.APIPort)
	client, err := adminClient(cp.AdminKubeconfig())
	if err != nil {
		return err
	}
	if err := waitAPIServer(ctx, client, 2*time.Minute); err != nil {
		return fmt.Errorf("%w%s%s", err, logTail(p.StateDir, "etcd", 3), logTail(p.StateDir, "kube-apiserver", 5))
	}
	routes, err := newControlPlaneRoutes(cp.AdminKubeconfig(), cpNS, p.ServiceCIDRs, s.log)
	if err != nil {
		return err
	}
	go routes.Run(ctx)
	if p.agentMode() == AgentProcess {
		if err := controlplane.EnsureAgentRBAC(ctx, client); err != nil {
			return err
		}
		if err := controlplane.EnsureCRDs(ctx, cp.AdminKubeconfig()); err != nil {
			return fmt.Errorf("install weft's CRDs: %w", err)
		}
	}
	if err := ensureKubeDNS(ctx, client, p); err != nil {
		return err
	}
	s.add(&child{name: "kube-controller-manager", netns: cpNS, args: append([]string{"kube-controller-manager"}, cp.ControllerManagerArgs()...)})
	s.add(&child{name: "kube-scheduler", netns: cpNS, args: append([]string{"kube-scheduler"}, cp.SchedulerArgs()...)})
	if mode := p.KubeProxyMode(); mode != "" {
		// After the binding exists, so its first requests are not refused.
		if err := controlplane.EnsureKubeProxyRBAC(ctx, client); err != nil {
			return err
		}
		s.addKubeProxies(cp)
		s.progress.step("starting kube-controller-manager, kube-scheduler and kube-proxy (%s mode) on %d node(s)", mode, len(p.Nodes))
	} else {
		s.progress.step("starting kube-controller-manager and kube-scheduler")
	}
	if p.Policy == PolicyKubeNetworkPolicies {
		s.addKubeNetworkPolicies(cp)
		s.progress.step("starting kube-network-policies on %d node(s)", len(p.Nodes))
	}
	if err := s.startPending(); err != nil {
		return err
	}
	if p.agentMode() == AgentDaemonSet {
		s.progress.step("installing weft from deploy/: CRD, RBAC, ConfigMap and DaemonSet %s", install.DaemonSetName)
		if err := installWeft(ctx, p, cp.AdminKubeconfig(), os.Stdout); err != nil {
			return err
		}
	}
	s.progress.step("waiting for %d node(s) to be Ready with podCIDRs", len(p.Nodes))
	if err := waitNodesReady(ctx, client, p, 2*time.Minute); err != nil {
		return err
	}
	if p.agentMode() == AgentDaemonSet {
		s.progress.step("waiting for weft's agent pod on %d node(s)", len(p.Nodes))
		if err := waitAgents(ctx, p, cp.AdminKubeconfig(), 3*time.Minute, os.Stdout); err != nil {
			return err
		}
	}
	if p.KubeProxyMode() == "" {
		return nil
	}
	s.progress.step("waiting for kube-proxy's first sync on %d node(s)", len(p.Nodes))
	return waitKubeProxies(ctx, p, time.Minute)
}

func (s *supervisor) add(c *child) {
	c.logPath = filepath.Join(s.plan.StateDir, logsDir, c.name+".log")
	c.stopWait = 10 * time.Second
	s.mu.Lock()
	s.children = append(s.children, c)
	s.mu.Unlock()
}

// startPending starts every child not started yet and supervises it from then on.
func (s *supervisor) startPending() error {
	s.mu.Lock()
	children := append([]*child(nil), s.children...)
	s.mu.Unlock()
	for _, c := range children {
		if c.started() {
			continue
		}
		if err := c.start(s.self, s.plan.StateDir); err != nil {
			return err
		}
		go c.supervise(s.self, s.plan.StateDir, s.writeProcesses)
	}
	s.writeProcesses()
	return nil
}

// stopAll stops processes in the reverse order of their start: nodes before the API server,
// the API server before etcd.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	children := append([]*child(nil), s.children...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	stopGroup := func(match func(*child) bool) {
		for _, c := range children {
			if match(c) {
				wg.Add(1)
				go func() { defer wg.Done(); c.stop() }()
			}
		}
		wg.Wait()
	}
	isCP := func(c *child) bool { return c.netns == s.plan.ControlPlane.NetNS }
	stopGroup(func(c *child) bool { return !isCP(c) })
	stopGroup(func(c *child) bool { return isCP(c) && c.name != "kube-apiserver" && c.name != "etcd" })
	stopGroup(func(c *child) bool { return c.name == "kube-apiserver" })
	stopGroup(func(c *child) bool { return c.name == "etcd" })
	s.writeProcesses()
}

// writeProcesses records PIDs and restart counts for `weft lab status`.
func (s *supervisor) writeProcesses() {
	s.mu.Lock()
	infos := make([]ProcessInfo, 0, len(s.children))
	for _, c := range s.children {
		infos = append(infos, c.info())
	}
	s.mu.Unlock()
	b, _ := json.MarshalIndent(infos, "", "  ")
	_ = atomicfile.Write(filepath.Join(s.plan.StateDir, processesFile), b, 0o644)
}

// agentArgs hand the user's overlay and egress choices to every node's agent.
func (p Plan) agentArgs() []string {
	args := p.dnsAgentArgs()
	for _, c := range p.NoMasqueradeCIDRs {
		args = append(args, "--agent-arg=--no-masquerade-cidr="+c)
	}
	if p.IPv6Masquerade {
		args = append(args, "--agent-arg=--ipv6-masq")
	}
	if p.MTU != 0 {
		args = append(args, fmt.Sprintf("--agent-arg=--mtu=%d", p.MTU))
	}
	if p.WireGuardKeyRotation != 0 {
		args = append(args, "--agent-arg=--wireguard-key-rotation="+p.WireGuardKeyRotation.String())
	}
	for _, pool := range p.LBPools {
		args = append(args, "--agent-arg=--lb-pool="+pool)
	}
	if len(p.Nodes) > 0 && len(p.Nodes[0].ExternalIPs) > 0 {
		args = append(args, "--agent-arg=--use-external-ip")
	}
	if p.KubeProxyMode() != "" {
		// kube-proxy serves Services; the agent removes its own proxy's table if one is left.
		args = append(args, "--agent-arg=--proxy=none")
	}
	if !p.weftPolicy() {
		// Nothing, or kube-network-policies, enforces NetworkPolicy; the agent removes its own
		// table if one is left.
		args = append(args, "--agent-arg=--policy=none")
	}
	return args
}

func controlPlaneConfig(p Plan) controlplane.Config {
	var serving []netip.Addr
	for _, a := range []netip.Addr{p.ControlPlane.IPv4, p.ControlPlane.IPv6} {
		if a.IsValid() {
			serving = append(serving, a)
		}
	}
	return controlplane.Config{
		ClusterName:        "weft-" + p.Name,
		Dir:                filepath.Join(p.StateDir, controlDir),
		AdvertiseAddress:   p.APIServerAddress(),
		ServingIPs:         serving,
		ClusterCIDRs:       p.ClusterCIDRs,
		ServiceCIDRs:       p.ServiceCIDRs,
		NodeCIDRMaskSizeV4: p.NodeCIDRMaskSizeV4,
		NodeCIDRMaskSizeV6: p.NodeCIDRMaskSizeV6,
		ClusterDomain:      p.ClusterDomain,
	}
}

func endpoints(p Plan) controlplane.Endpoints {
	port := strconv.Itoa(controlplane.APIServerPort)
	return controlplane.Endpoints{
		Host:         "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(p.APIPort)),
		ControlPlane: "https://" + net.JoinHostPort("127.0.0.1", port),
		LAN:          "https://" + net.JoinHostPort(p.APIServerAddress().String(), port),
	}
}

// LANAPIServer is the API server as the nodes reach it on the lab LAN: the address weft's
// agents use when they run as the DaemonSet's pods.
func (p Plan) LANAPIServer() string { return endpoints(p).LAN }

// AdminKubeconfig is where a lab's cluster-admin kubeconfig is written.
func AdminKubeconfig(stateDir string) string {
	return filepath.Join(stateDir, controlDir, "admin.kubeconfig")
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// nodeLabelArgs are the labels the node registers with: its zone, when the lab has zones.
func nodeLabelArgs(n Node) []string {
	if n.Zone == "" {
		return nil
	}
	return []string{"--node-labels=" + corev1.LabelTopologyZone + "=" + n.Zone}
}
