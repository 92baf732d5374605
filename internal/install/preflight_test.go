package install

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestPreflightRefusesWhatWeftReplaces(t *testing.T) {
	ds := func(name string) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace}}
	}
	ctx := context.Background()
	if err := Preflight(ctx, fake.NewClientset(), Defaults()); err != nil {
		t.Errorf("an empty cluster is refused: %v", err)
	}
	kube := fake.NewClientset(ds("kube-proxy"))
	err := Preflight(ctx, kube, Defaults())
	if err == nil || !strings.Contains(err.Error(), "--proxy none") {
		t.Errorf("kube-proxy: want an error naming --proxy none, got %v", err)
	}
	keep := Defaults()
	keep.Proxy = "none"
	if err := Preflight(ctx, kube, keep); err != nil {
		t.Errorf("--proxy none keeps kube-proxy, yet: %v", err)
	}
	if err := Preflight(ctx, fake.NewClientset(ds("kube-flannel-ds")), keep); err == nil || !strings.Contains(err.Error(), "flannel") {
		t.Errorf("flannel: got %v", err)
	}
}
