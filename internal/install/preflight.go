package install

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// otherNetworks are DaemonSets in kube-system of what weft replaces: the kube-proxy kubeadm
// installs, and CNI plugins' agents. Two of them on a node fight over its rules and routes.
var otherNetworks = []struct{ name, what, fix string }{
	{"kube-proxy", "kube-proxy", "install with --proxy none to keep it, or delete it (kubectl -n kube-system delete ds kube-proxy) and clear its rules on every node (kube-proxy --cleanup)"},
	{"kube-flannel-ds", "flannel", "remove it, or start K3s with --flannel-backend=none"},
	{"calico-node", "Calico", "remove it first"},
	{"cilium", "Cilium", "remove it first"},
	{"kube-router", "kube-router", "remove it first"},
	{"weave-net", "Weave Net", "remove it first"},
}

// Preflight refuses a cluster that runs what weft would replace, naming it and what to do.
func Preflight(ctx context.Context, kube kubernetes.Interface, o Options) error {
	var found []string
	for _, n := range otherNetworks {
		if n.name == "kube-proxy" && o.Proxy == "none" {
			continue
		}
		_, err := kube.AppsV1().DaemonSets(Namespace).Get(ctx, n.name, metav1.GetOptions{})
		switch {
		case err == nil:
			found = append(found, fmt.Sprintf("%s runs (DaemonSet %s/%s): %s", n.what, Namespace, n.name, n.fix))
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("look for DaemonSet %s/%s: %w", Namespace, n.name, err)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("the cluster has a network weft would replace:\n  %s", strings.Join(found, "\n  "))
	}
	return nil
}
