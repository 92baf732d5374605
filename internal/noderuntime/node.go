package noderuntime

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/weftnet/weft/internal/version"
)

// KubeletPort is where the kubelet API would answer; Node.status.daemonEndpoints advertises it.
const KubeletPort = 10250

// registrar keeps this node's Node object and Lease in the API server.
type registrar struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	host   hostFacts
}

// hostFacts are what the node reports about the machine it runs on.
type hostFacts struct {
	cpus          int
	memoryBytes   int64
	storageBytes  int64 // the node's file system, which pods' ephemeral-storage requests share
	kernelVersion string
	osImage       string
}

func readHostFacts() hostFacts {
	f := hostFacts{cpus: runtime.NumCPU(), kernelVersion: "unknown", osImage: "unknown"}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.kernelVersion = trimNL(string(b))
	}
	f.memoryBytes = memTotal()
	f.storageBytes = fsSize("/var/lib")
	f.osImage = osPrettyName()
	return f
}

// register creates the Node, or takes over an existing one of the same name (a restarted node
// keeps its podCIDRs, which only the controller-manager sets).
func (r *registrar) register(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: r.opts.NodeName,
			Labels: map[string]string{
				corev1.LabelHostname:   r.opts.NodeName,
				corev1.LabelOSStable:   "linux",
				corev1.LabelArchStable: runtime.GOARCH,
			},
		},
	}
	for k, v := range r.opts.NodeLabels {
		node.Labels[k] = v
	}
	_, err := r.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("register Node %s: %w", r.opts.NodeName, err)
	}
	return r.updateStatus(ctx)
}

// updateStatus writes addresses, capacity, node info and the conditions. The node is Ready as
// long as this process runs: the Lease, not this status, tells the control plane it is alive.
func (r *registrar) updateStatus(ctx context.Context) error {
	node, err := r.client.CoreV1().Nodes().Get(ctx, r.opts.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read Node %s: %w", r.opts.NodeName, err)
	}
	now := metav1.Now()
	node.Status.Addresses = nodeAddresses(r.opts.NodeIPs, r.opts.ExternalIPs, r.opts.NodeName)
	node.Status.Capacity = r.host.capacity()
	node.Status.Allocatable = r.host.capacity()
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = KubeletPort
	node.Status.NodeInfo = corev1.NodeSystemInfo{
		KernelVersion:           r.host.kernelVersion,
		OSImage:                 r.host.osImage,
		ContainerRuntimeVersion: "weft://" + version.Weft,
		KubeletVersion:          version.Kubernetes,
		OperatingSystem:         "linux",
		Architecture:            runtime.GOARCH,
	}
	node.Status.Conditions = mergeConditions(node.Status.Conditions, now, []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "weft node runtime has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "weft node runtime has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "weft node runtime has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "weft node runtime is posting ready status"},
	})
	if _, err := r.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update Node %s status: %w", r.opts.NodeName, err)
	}
	return nil
}

// capacity is what the node offers; the lab reserves nothing, so it is also allocatable.
func (h hostFacts) capacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(h.cpus), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(h.memoryBytes, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
		// Without it the scheduler places no pod that requests ephemeral storage.
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(h.storageBytes, resource.BinarySI),
	}
}

// nodeAddresses lists InternalIPs in the cluster's family order, then ExternalIPs, then the
// host name, as the kubelet does; the first InternalIP of each family is what the rest of
// Kubernetes uses.
func nodeAddresses(ips, external []netip.Addr, hostname string) []corev1.NodeAddress {
	var out []corev1.NodeAddress
	for _, ip := range ips {
		out = append(out, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip.String()})
	}
	for _, ip := range external {
		out = append(out, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: ip.String()})
	}
	return append(out, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
}

// mergeConditions refreshes heartbeats and keeps a condition's transition time while its status
// holds. Conditions other components own (the weft agent's, NetworkUnavailable) are kept as
// they are, as the kubelet keeps them.
func mergeConditions(old []corev1.NodeCondition, now metav1.Time, want []corev1.NodeCondition) []corev1.NodeCondition {
	prev := map[corev1.NodeConditionType]corev1.NodeCondition{}
	for _, c := range old {
		prev[c.Type] = c
	}
	out := make([]corev1.NodeCondition, 0, len(want)+len(old))
	for _, c := range want {
		c.LastHeartbeatTime = now
		c.LastTransitionTime = now
		if p, ok := prev[c.Type]; ok && p.Status == c.Status {
			c.LastTransitionTime = p.LastTransitionTime
		}
		delete(prev, c.Type)
		out = append(out, c)
	}
	for _, c := range old {
		if _, theirs := prev[c.Type]; theirs {
			out = append(out, c)
		}
	}
	return out
}

// renewLease creates or renews the node's Lease in kube-node-lease, owned by the Node so it goes
// when the Node goes.
func (r *registrar) renewLease(ctx context.Context) error {
	leases := r.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, r.opts.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err := r.client.CoreV1().Nodes().Get(ctx, r.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read Node %s for its Lease: %w", r.opts.NodeName, err)
		}
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name:      r.opts.NodeName,
				Namespace: corev1.NamespaceNodeLease,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
				}},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(r.opts.NodeName),
				LeaseDurationSeconds: ptr.To(int32(r.opts.LeaseDuration.Seconds())),
				RenewTime:            &now,
			},
		}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return wrapLease(r.opts.NodeName, err)
	}
	if err != nil {
		return wrapLease(r.opts.NodeName, err)
	}
	lease.Spec.RenewTime = &now
	lease.Spec.HolderIdentity = ptr.To(r.opts.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(r.opts.LeaseDuration.Seconds()))
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return wrapLease(r.opts.NodeName, err)
}

func wrapLease(node string, err error) error {
	if err != nil {
		return fmt.Errorf("renew Lease %s/%s: %w", corev1.NamespaceNodeLease, node, err)
	}
	return nil
}
