package install

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager owns the fields weft install applies: a later install changes them, and
// nobody else's fields are taken over.
const FieldManager = "weft-install"

// Clients are what install, status and uninstall talk to the cluster with.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
}

// NewClients connects to the cluster of cfg.
func NewClients(cfg *rest.Config) (*Clients, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Clients{Kube: kube, Dynamic: dyn, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}, nil
}

// resource finds where u lives in the API.
func (c *Clients) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: the cluster does not serve this kind: %w", gvk.Kind, u.GetName(), err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace()), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
}

// Apply sends every object with server-side apply, in order, and says so on out.
func (c *Clients) Apply(ctx context.Context, objs []*unstructured.Unstructured, out io.Writer) error {
	for _, u := range objs {
		ri, err := c.resource(u)
		if err != nil {
			return err
		}
		body, err := json.Marshal(u.Object)
		if err != nil {
			return err
		}
		force := true // weft's own objects: a hand edit of one of its fields is taken back
		if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
			return fmt.Errorf("apply %s %s: %w", u.GetKind(), qualified(u), err)
		}
		fmt.Fprintf(out, "applied %s %s\n", u.GetKind(), qualified(u))
	}
	return nil
}

func qualified(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// WaitDaemonSet waits until the DaemonSet's current pods run and are ready on every node it
// schedules to, printing progress whenever it changes.
func WaitDaemonSet(ctx context.Context, kube kubernetes.Interface, name string, timeout time.Duration, out io.Writer) error {
	last := ""
	var ds *appsv1.DaemonSet
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		ds, err = kube.AppsV1().DaemonSets(Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		s := ds.Status
		line := fmt.Sprintf("%s: %d of %d node(s) ready, %d up to date", name, s.NumberReady, s.DesiredNumberScheduled, s.UpdatedNumberScheduled)
		if line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		return rolledOut(ds), nil
	})
	if err != nil {
		return fmt.Errorf("DaemonSet %s/%s not ready after %s (last: %s): see `kubectl -n %s get pods -l %s=%s -o wide` and their logs",
			Namespace, name, timeout, last, Namespace, AgentLabel, name)
	}
	return nil
}

func rolledOut(ds *appsv1.DaemonSet) bool {
	s := ds.Status
	return s.ObservedGeneration >= ds.Generation && s.DesiredNumberScheduled > 0 &&
		s.UpdatedNumberScheduled == s.DesiredNumberScheduled && s.NumberReady == s.DesiredNumberScheduled &&
		s.NumberUnavailable == 0
}

// deleteAndWait deletes an object if it exists and waits until it is gone.
func (c *Clients) deleteAndWait(ctx context.Context, u *unstructured.Unstructured, timeout time.Duration) error {
	ri, err := c.resource(u)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil // its kind (a CRD's) is already gone
		}
		return err
	}
	fg := metav1.DeletePropagationForeground
	if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", u.GetKind(), qualified(u), err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("%s %s still there after %s", u.GetKind(), qualified(u), timeout)
	}
	return nil
}
