package lab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/kubenode"
)

func adminClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.Timeout = 5 * time.Second
	cfg.UserAgent = "weft-lab"
	return kubernetes.NewForConfig(cfg)
}

// waitAPIServer polls /readyz until every readiness check passes.
func waitAPIServer(ctx context.Context, client kubernetes.Interface, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, last = client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the API server did not become ready in %s (last answer: %v)", timeout, last)
	}
	return nil
}

// waitNodesReady waits until every planned node is registered, Ready, and has a podCIDR for
// each cluster family.
func waitNodesReady(ctx context.Context, client kubernetes.Interface, p Plan, timeout time.Duration) error {
	missing, notReady := []string{"no answer from the API server"}, []string{}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil // keep what the last answer said
		}
		missing, notReady = notReadyNodes(p, list.Items)
		return len(missing) == 0, nil
	})
	if err != nil {
		var tails string
		for _, n := range notReady {
			tails += logTail(p.StateDir, n, 3)
		}
		// podCIDRs come from the controller-manager's node IPAM.
		tails += logTail(p.StateDir, "kube-controller-manager", 3)
		return fmt.Errorf("nodes not ready after %s: %s%s", timeout, strings.Join(missing, ", "), tails)
	}
	return nil
}

// notReadyNodes says, per planned node, what it still lacks, and names those nodes.
func notReadyNodes(p Plan, nodes []corev1.Node) (missing, names []string) {
	byName := map[string]corev1.Node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	for _, want := range p.Nodes {
		n, ok := byName[want.Name]
		switch {
		case !ok:
			missing = append(missing, want.Name+" not registered")
		case !kubenode.Ready(&n):
			missing = append(missing, want.Name+" not Ready")
		case len(n.Spec.PodCIDRs) != len(p.ClusterCIDRs):
			missing = append(missing, fmt.Sprintf("%s has podCIDRs %v, wants one per family of %s", want.Name, n.Spec.PodCIDRs, cidr.Join(p.ClusterCIDRs)))
		default:
			continue
		}
		names = append(names, want.Name)
	}
	sort.Strings(missing)
	return missing, names
}
