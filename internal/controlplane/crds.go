package controlplane

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/weftnet/weft/deploy"
)

// EnsureCRDs installs the CustomResourceDefinitions weft serves or enforces (the very files in
// deploy/) and waits until the API server serves them, so `kubectl apply` of an EgressRoute or
// a ClusterNetworkPolicy works right after up, and agents find them when they start.
func EnsureCRDs(ctx context.Context, adminKubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", adminKubeconfig)
	if err != nil {
		return fmt.Errorf("admin kubeconfig %s: %w", adminKubeconfig, err)
	}
	client, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for file, data := range deploy.CRDs {
		if err := ensureCRD(ctx, client, file, data); err != nil {
			return err
		}
	}
	return nil
}

func ensureCRD(ctx context.Context, client apiextensions.Interface, file string, data []byte) error {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		return fmt.Errorf("deploy/%s: %w", file, err)
	}
	crds := client.ApiextensionsV1().CustomResourceDefinitions()
	if _, err := crds.Create(ctx, &crd, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		old, err := crds.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
		crd.ResourceVersion = old.ResourceVersion
		if _, err := crds.Update(ctx, &crd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("CRD %s: %w", crd.Name, err)
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := crds.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}
