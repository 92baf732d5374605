// Package noderuntime is the lab's kubelet: it registers its Node, keeps the Node's status and
// Lease fresh under the node's own credentials, and handles the pods bound to it.
package noderuntime

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/weftnet/weft/internal/kubeletapi"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Options configure one node runtime. Flag names are the kubelet's and K3s's.
type Options struct {
	NodeName string
	NodeIPs  []netip.Addr
	// ExternalIPs are reported as the Node's ExternalIP addresses (K3s's --node-external-ip).
	ExternalIPs []netip.Addr
	// NodeLabels are set on the Node when it registers (the kubelet's --node-labels).
	NodeLabels    map[string]string
	Kubeconfig    string
	ClusterDNS    string
	ClusterDomain string
	LeaseDuration time.Duration
	StatusPeriod  time.Duration
	// RootDir holds pod state (files, container records); LogDir the containers' logs.
	RootDir    string
	LogDir     string
	CNIConfDir string
	// CNIBinDirs are where CNI plugins are looked up (default: beside weft, then /opt/cni/bin).
	CNIBinDirs []string
	// ImagesDir holds image content the lab cannot make itself: the agnhost binary.
	ImagesDir string
	// RunAgent starts `weft agent` beside the runtime (the lab's stand-in for the DaemonSet).
	RunAgent bool
	// Backend is handed to the agent: how pods reach other nodes' pods.
	Backend string
	// AgentKubeconfig holds the agent's own credentials.
	AgentKubeconfig string
	// AgentArgs are handed to the agent as they are.
	AgentArgs []string
	// KubeletAPI serves logs and exec to the API server.
	KubeletAPI     kubeletapi.Config
	nodeIPText     string
	externalIPText string
}

// DefaultImagesDir is where the node runtime looks for the agnhost binary unless told otherwise.
const DefaultImagesDir = "/var/lib/weft/images"

// Defaults match the kubelet's: a 40 s lease renewed every 10 s.
func Defaults() Options {
	return Options{
		ClusterDomain: "cluster.local", LeaseDuration: 40 * time.Second, StatusPeriod: time.Minute,
		RootDir: "/var/lib/weft-node", LogDir: "/var/log/pods", CNIConfDir: "/etc/cni/net.d",
		ImagesDir:  DefaultImagesDir,
		KubeletAPI: kubeletapi.Defaults(),
	}
}

// AddFlags binds the options to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "name of the Node object (default: this machine's host name)")
	fs.StringVar(&o.nodeIPText, "node-ip", o.nodeIPText, "InternalIP(s) of the node, one per family, comma-separated in the cluster's family order")
	fs.StringVar(&o.externalIPText, "node-external-ip", o.externalIPText, "ExternalIP(s) of the node, one per family, comma-separated (K3s's --node-external-ip)")
	fs.StringToStringVar(&o.NodeLabels, "node-labels", o.NodeLabels, "labels the Node registers with, key=value,... (e.g. topology.kubernetes.io/zone=zone-a)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig with this node's credentials (user system:node:<name>)")
	fs.StringVar(&o.ClusterDNS, "cluster-dns", o.ClusterDNS, "address of the cluster DNS service, given to pods")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "cluster DNS domain, given to pods")
	fs.DurationVar(&o.LeaseDuration, "node-lease-duration", o.LeaseDuration, "how long the node's Lease is valid; it is renewed every quarter of it")
	fs.StringVar(&o.RootDir, "root-dir", o.RootDir, "directory for pod state")
	fs.StringVar(&o.LogDir, "pod-log-dir", o.LogDir, "directory for container logs, in the kubelet's layout")
	fs.StringVar(&o.CNIConfDir, "cni-conf-dir", o.CNIConfDir, "directory of CNI configurations")
	fs.StringSliceVar(&o.CNIBinDirs, "cni-bin-dir", o.CNIBinDirs, "directories of CNI plugins (default: beside weft, then /opt/cni/bin); give /opt/cni/bin when weft's DaemonSet installs the plugin")
	fs.StringVar(&o.ImagesDir, "images-dir", o.ImagesDir, "directory with image content the lab cannot make: an executable agnhost for the e2e-test-images/agnhost image")
	fs.BoolVar(&o.RunAgent, "run-agent", o.RunAgent, "also run weft agent on this node, restarting it when it exits")
	fs.StringVar(&o.Backend, "backend", "vxlan", "cross-node backend for the agent (vxlan, host-gw or none)")
	fs.StringVar(&o.AgentKubeconfig, "agent-kubeconfig", "", "kubeconfig for the agent (default: --kubeconfig)")
	fs.StringArrayVar(&o.AgentArgs, "agent-arg", nil, "an argument for the agent, e.g. --agent-arg=--cluster-cidr=10.42.0.0/16; repeatable")
	o.KubeletAPI.AddFlags(fs)
	fs.DurationVar(&o.StatusPeriod, "node-status-report-frequency", o.StatusPeriod, "how often the Node status is rewritten even when nothing changed")
}

// Complete fills the node name from the host name and parses --node-ip.
func (o *Options) Complete(hostname func() (string, error)) error {
	var errs []error
	if o.NodeName == "" {
		h, err := hostname()
		if err != nil {
			errs = append(errs, fmt.Errorf("--node-name not given and the host name is unreadable (%w): pass --node-name", err))
		}
		o.NodeName = strings.ToLower(h)
	}
	var err error
	o.NodeIPs, err = parseAddrList("--node-ip", o.nodeIPText)
	errs = append(errs, err)
	o.ExternalIPs, err = parseAddrList("--node-external-ip", o.externalIPText)
	errs = append(errs, err)
	return errors.Join(errs...)
}

// Validate refuses a node name that cannot name a Node or that every machine shares (K3s
// nodes whose hostname is "localhost" collide), and incoherent addresses.
func (o *Options) Validate() error {
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(o.NodeName); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("node name %q is not a valid Node name (%s): pass --node-name", o.NodeName, strings.Join(msgs, "; ")))
	} else if o.NodeName == "localhost" || strings.HasPrefix(o.NodeName, "localhost.") {
		errs = append(errs, fmt.Errorf("node name %q is the same on every machine: pass --node-name with a name unique in the cluster", o.NodeName))
	}
	if len(o.NodeIPs) == 0 || len(o.NodeIPs) > 2 {
		errs = append(errs, errors.New("--node-ip: give one address, or one IPv4 and one IPv6 address for dual-stack"))
	} else if len(o.NodeIPs) == 2 && o.NodeIPs[0].Is4() == o.NodeIPs[1].Is4() {
		errs = append(errs, fmt.Errorf("--node-ip %s,%s: dual-stack needs one IPv4 and one IPv6 address", o.NodeIPs[0], o.NodeIPs[1]))
	}
	for k, v := range o.NodeLabels {
		if msgs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--node-labels %s=%s: %s", k, v, strings.Join(msgs, "; ")))
		}
	}
	if o.Kubeconfig == "" {
		errs = append(errs, errors.New("--kubeconfig: give the kubeconfig with this node's credentials"))
	} else if _, err := os.Stat(o.Kubeconfig); err != nil {
		errs = append(errs, fmt.Errorf("--kubeconfig: %w", err))
	}
	if o.LeaseDuration < 4*time.Second {
		errs = append(errs, fmt.Errorf("--node-lease-duration %s: use at least 4s", o.LeaseDuration))
	}
	return errors.Join(errs...)
}

func parseAddrList(flag, text string) ([]netip.Addr, error) {
	var out []netip.Addr
	var errs []error
	for _, f := range strings.Split(text, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not an IP address", flag, f))
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}
