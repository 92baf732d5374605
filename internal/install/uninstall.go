package install

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/weftnet/weft/internal/agent"
)

// CleanupDaemonSetName runs weft's removal on every node during uninstall.
const CleanupDaemonSetName = "weft-cleanup"

// PauseImage is what a cleanup pod runs once its init container has cleaned the node.
const PauseImage = "registry.k8s.io/pause:3.10"

// Uninstall removes weft from the cluster and from every node: it deletes the agents'
// DaemonSet (the kernel keeps their rules meanwhile), runs `weft agent --uninstall` on every
// node as the init container of a cleanup DaemonSet built from the agents' own pod template
// (same image, rights, mounts and configuration), waits until every node has run it, and then
// deletes the cleanup DaemonSet and everything install applied, status Leases included.
func (c *Clients) Uninstall(ctx context.Context, o Options, out io.Writer) error {
	live, err := c.Kube.AppsV1().DaemonSets(Namespace).Get(ctx, DaemonSetName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		fmt.Fprintf(out, "DaemonSet %s/%s is not there: cleaning the nodes with the rendered one\n", Namespace, DaemonSetName)
		live, err = renderedDaemonSet(o)
		if err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("read DaemonSet %s/%s: %w", Namespace, DaemonSetName, err)
	}
	objs, err := Render(o)
	if err != nil {
		return err
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	fmt.Fprintf(out, "deleting DaemonSet %s/%s and waiting for its pods to stop\n", Namespace, DaemonSetName)
	if err := c.deleteAndWait(ctx, daemonSetRef(DaemonSetName), timeout); err != nil {
		return err
	}
	if err := c.waitNoPods(ctx, DaemonSetName, timeout); err != nil {
		return err
	}
	cleanup, err := cleanupDaemonSet(live)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "running weft agent --uninstall on every node (DaemonSet %s/%s)\n", Namespace, CleanupDaemonSetName)
	if _, err := c.Kube.AppsV1().DaemonSets(Namespace).Create(ctx, cleanup, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create DaemonSet %s/%s: %w", Namespace, CleanupDaemonSetName, err)
	}
	if err := WaitDaemonSet(ctx, c.Kube, CleanupDaemonSetName, timeout, out); err != nil {
		return fmt.Errorf("%w (a node whose cleanup failed shows it in `kubectl -n %s logs -c cleanup ds/%s`)", err, Namespace, CleanupDaemonSetName)
	}
	if err := c.deleteAndWait(ctx, daemonSetRef(CleanupDaemonSetName), timeout); err != nil {
		return err
	}
	if err := c.waitNoPods(ctx, CleanupDaemonSetName, timeout); err != nil {
		return err
	}
	slices.Reverse(objs)
	for _, u := range objs {
		if err := c.deleteAndWait(ctx, u, timeout); err != nil {
			return err
		}
		fmt.Fprintf(out, "deleted %s %s\n", u.GetKind(), qualified(u))
	}
	sel := agent.StatusLabel + "=" + agent.StatusLabelValue
	if err := c.Kube.CoordinationV1().Leases(agent.StatusNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil {
		return fmt.Errorf("delete the agents' status Leases: %w", err)
	}
	fmt.Fprintln(out, "deleted the agents' status Leases")
	return nil
}

func daemonSetRef(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("DaemonSet")
	u.SetNamespace(Namespace)
	u.SetName(name)
	return u
}

func renderedDaemonSet(o Options) (*appsv1.DaemonSet, error) {
	objs, err := Render(o)
	if err != nil {
		return nil, err
	}
	for _, u := range objs {
		if u.GetKind() == "DaemonSet" {
			ds := &appsv1.DaemonSet{}
			return ds, edit(u, ds, func(*appsv1.DaemonSet) error { return nil })
		}
	}
	return nil, fmt.Errorf("deploy/weft.yaml has no DaemonSet")
}

// cleanupDaemonSet is the agents' pod template with the agent's command, plus --uninstall, as
// its only init container and a pause container to show it is done.
func cleanupDaemonSet(agentDS *appsv1.DaemonSet) (*appsv1.DaemonSet, error) {
	tmpl := agentDS.Spec.Template.DeepCopy()
	a := agentContainer(&tmpl.Spec)
	if a == nil {
		return nil, fmt.Errorf("DaemonSet %s/%s has no container named agent", Namespace, DaemonSetName)
	}
	clean := a.DeepCopy()
	clean.Name = "cleanup"
	clean.Command = append(clean.Command, "--uninstall", "--cni-bin-dir=/opt/cni/bin")
	clean.LivenessProbe, clean.ReadinessProbe, clean.StartupProbe = nil, nil, nil
	labels := map[string]string{AgentLabel: CleanupDaemonSetName, PartOfLabel: "weft"}
	tmpl.Labels = labels
	tmpl.Spec.InitContainers = []corev1.Container{*clean}
	tmpl.Spec.Containers = []corev1.Container{{Name: "done", Image: PauseImage}}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: CleanupDaemonSetName, Namespace: Namespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{AgentLabel: CleanupDaemonSetName}},
			Template: *tmpl,
		},
	}, nil
}

// waitNoPods waits until no pod of the named DaemonSet is left on any node.
func (c *Clients) waitNoPods(ctx context.Context, name string, timeout time.Duration) error {
	sel := AgentLabel + "=" + name
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := c.Kube.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		return err == nil && len(pods.Items) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("pods %s in %s still there after %s", sel, Namespace, timeout)
	}
	return nil
}
