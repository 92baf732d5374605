package noderuntime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"

	"github.com/weftnet/weft/internal/hostport"
	"github.com/weftnet/weft/internal/netns"
)

// ErrNetworkNotReady means no CNI configuration exists yet: the agent writes it once the Node
// has podCIDRs. The kubelet reports the same state as NetworkPluginNotReady.
var ErrNetworkNotReady = errors.New("network plugin not ready: no CNI configuration in /etc/cni/net.d yet")

// network calls the CNI plugins exactly as a container runtime does, through libcni.
type network struct {
	confDir string
	cni     *libcni.CNIConfig
}

func newNetwork(confDir string, binDirs []string) *network {
	return &network{confDir: confDir, cni: libcni.NewCNIConfigWithCacheDir(binDirs, "/var/lib/cni/cache", nil)}
}

// confList loads the first configuration in lexical order, as containerd does.
func (n *network) confList() (*libcni.NetworkConfigList, error) {
	files, err := libcni.ConfFiles(n.confDir, []string{".conflist"})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", n.confDir, err)
	}
	if len(files) == 0 {
		return nil, ErrNetworkNotReady
	}
	sort.Strings(files)
	return libcni.ConfListFromFile(files[0])
}

// sandboxID names a pod's sandbox for CNI (CNI_CONTAINERID): stable for the pod's UID, so a
// restarted runtime deletes exactly what it added.
func sandboxID(pod *corev1.Pod) string {
	sum := sha256.Sum256([]byte(pod.UID))
	return hex.EncodeToString(sum[:])
}

// netnsName is the pod's network namespace name under the node's own /run/netns.
func netnsName(pod *corev1.Pod) string { return "pod-" + sandboxID(pod)[:16] }

func (n *network) runtimeConf(pod *corev1.Pod) *libcni.RuntimeConf {
	id := sandboxID(pod)
	return &libcni.RuntimeConf{
		ContainerID: id,
		NetNS:       netns.Path(netnsName(pod)),
		IfName:      "eth0",
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", pod.Namespace},
			{"K8S_POD_NAME", pod.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", id},
			{"K8S_POD_UID", string(pod.UID)},
		},
		CapabilityArgs: capabilityArgs(pod),
	}
}

// capabilityArgs are the runtime capabilities of the pod's sandbox, as containerd passes them:
// "portMappings" lists the containers' ports that have a hostPort (protocol in lower case,
// hostIP as given). libcni hands them only to plugins that declare the capability.
func capabilityArgs(pod *corev1.Pod) map[string]any {
	var ms []hostport.Mapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			ms = append(ms, hostport.Mapping{HostPort: int(p.HostPort), ContainerPort: int(p.ContainerPort), Protocol: proto, HostIP: p.HostIP})
		}
	}
	if len(ms) == 0 {
		return nil
	}
	return map[string]any{"portMappings": ms}
}

// gc runs CNI GC with every pod the runtime knows as valid: what a pod deleted while no runtime
// ran left (its address lease, host veth and hostPort mappings) goes. Pods whose sandbox was
// released are in the list too, which keeps nothing of theirs.
func (n *network) gc(ctx context.Context, pods []*corev1.Pod) error {
	list, err := n.confList()
	if errors.Is(err, ErrNetworkNotReady) {
		return nil
	}
	if err != nil {
		return err
	}
	args := &libcni.GCArgs{}
	for _, pod := range pods {
		if !pod.Spec.HostNetwork {
			args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: sandboxID(pod), IfName: "eth0"})
		}
	}
	if err := n.cni.GCNetworkList(ctx, list, args); err != nil {
		return fmt.Errorf("CNI GC: %w", err)
	}
	return nil
}

// setUp creates the pod's network namespace and runs CNI ADD; it returns the pod's IPs in the
// order the plugin reported them. On failure nothing is left: the namespace goes again.
func (n *network) setUp(ctx context.Context, pod *corev1.Pod) ([]string, error) {
	list, err := n.confList()
	if err != nil {
		return nil, err
	}
	name := netnsName(pod)
	if _, err := os.Stat(netns.Path(name)); err != nil {
		if err := netns.Create(name); err != nil {
			return nil, err
		}
	}
	res, err := n.cni.AddNetworkList(ctx, list, n.runtimeConf(pod))
	if err != nil {
		_ = n.cni.DelNetworkList(ctx, list, n.runtimeConf(pod))
		_ = netns.Delete(name)
		return nil, fmt.Errorf("CNI ADD %s: %w", list.Name, err)
	}
	return resultIPs(res)
}

// status returns the IPs of a pod set up before (by this or a previous runtime), from libcni's cache.
func (n *network) status(pod *corev1.Pod) ([]string, error) {
	list, err := n.confList()
	if err != nil {
		return nil, err
	}
	res, err := n.cni.GetNetworkListCachedResult(list, n.runtimeConf(pod))
	if err != nil || res == nil {
		return nil, fmt.Errorf("no cached CNI result for pod %s/%s", pod.Namespace, pod.Name)
	}
	return resultIPs(res)
}

// tearDown runs CNI DEL and removes the namespace. Both steps tolerate a pod already gone.
func (n *network) tearDown(ctx context.Context, pod *corev1.Pod) error {
	var errs []error
	if list, err := n.confList(); err == nil {
		if err := n.cni.DelNetworkList(ctx, list, n.runtimeConf(pod)); err != nil {
			errs = append(errs, fmt.Errorf("CNI DEL: %w", err))
		}
	} else if !errors.Is(err, ErrNetworkNotReady) {
		errs = append(errs, err)
	}
	if err := netns.Delete(netnsName(pod)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// resultIPs lists the pod's addresses in the plugin's order, which follows the node's families.
func resultIPs(r types.Result) ([]string, error) {
	res, err := types100.NewResultFromResult(r)
	if err != nil {
		return nil, fmt.Errorf("CNI result: %w", err)
	}
	var ips []string
	for _, ip := range res.IPs {
		ips = append(ips, ip.Address.IP.String())
	}
	if len(ips) == 0 {
		return nil, errors.New("CNI result has no IP address")
	}
	return ips, nil
}

// cniBinDirs are where the plugins are looked up: the given directories, or else next to weft
// itself first, then the usual place.
func cniBinDirs(given []string) []string {
	if len(given) > 0 {
		return given
	}
	dirs := []string{"/opt/cni/bin"}
	if self, err := os.Executable(); err == nil {
		dirs = append([]string{filepath.Dir(self)}, dirs...)
	}
	return dirs
}

// besideIfExists is the file name beside the program self, or "" when there is none.
func besideIfExists(self, name string) string {
	p := filepath.Join(filepath.Dir(self), name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
