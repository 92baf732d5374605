package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestStatusIsPublishedOnChangeOnly(t *testing.T) {
	client := fake.NewClientset()
	a := &Agent{opts: Defaults(), client: client, log: slog.Default()}
	a.opts.NodeName = "node-1"
	ctx := context.Background()
	writes := func() int {
		n := 0
		for _, act := range client.Actions() {
			if act.GetVerb() == "create" || act.GetVerb() == "update" {
				n++
			}
		}
		return n
	}
	if err := a.publishStatus(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	lease, err := client.CoordinationV1().Leases(StatusNamespace).Get(ctx, StatusLeaseName("node-1"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseStatus(lease)
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend != "vxlan" || st.Proxy != "weft" || st.DNS != "weft" || st.LastSync.IsZero() || len(st.Problems) != 0 {
		t.Errorf("status %+v", st)
	}
	if lease.Labels[StatusLabel] != StatusLabelValue || *lease.Spec.HolderIdentity != "node-1" {
		t.Errorf("lease %+v", lease.ObjectMeta)
	}
	// The same status again, moments later: nothing is written, so agents do not churn.
	if err := a.publishStatus(ctx, nil, nil); err != nil || writes() != 1 {
		t.Fatalf("an unchanged status was written again (%d writes, %v)", writes(), err)
	}
	a.status.featureStopped("the cluster DNS", errors.New("port 53 in use"))
	if err := a.publishStatus(ctx, errors.New("boom"), []string{"peer node-2 unreachable"}); err != nil || writes() != 2 {
		t.Fatalf("a changed status was not written (%d writes, %v)", writes(), err)
	}
	lease, _ = client.CoordinationV1().Leases(StatusNamespace).Get(ctx, StatusLeaseName("node-1"), metav1.GetOptions{})
	failed, _ := ParseStatus(lease)
	want := []string{"node sync failed: boom", "peer node-2 unreachable", "the cluster DNS stopped: port 53 in use"}
	if !slices.Equal(failed.Problems, want) || !failed.LastSync.Equal(st.LastSync) {
		t.Errorf("problems %q (want %q), last sync %s (want the last good one, %s)", failed.Problems, want, failed.LastSync, st.LastSync)
	}
}

func TestReadyAfterTheFirstRealNodeSync(t *testing.T) {
	a := &Agent{opts: Defaults(), client: fake.NewClientset(), log: slog.Default()}
	a.opts.NodeName = "node-1"
	code := func() int {
		rec := httptest.NewRecorder()
		a.serveReady(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code
	}
	if code() != http.StatusServiceUnavailable {
		t.Error("ready before any sync")
	}
	_ = a.publishStatus(context.Background(), nil, []string{waitingForPodCIDRs})
	if code() != http.StatusServiceUnavailable {
		t.Error("ready while the Node has no podCIDRs")
	}
	_ = a.publishStatus(context.Background(), errors.New("boom"), nil)
	if code() != http.StatusServiceUnavailable {
		t.Error("ready after a failed sync")
	}
	_ = a.publishStatus(context.Background(), nil, nil)
	if code() != http.StatusOK {
		t.Error("not ready after a node sync succeeded")
	}
}
