package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/version"
)

// Each agent publishes what it runs and how its last sync went in a Lease of its own,
// kube-system/weft-agent-<node>: `weft status` reads them all. A Lease, not the Node: every
// agent watches every Node, so a heartbeat written there would wake all of them each time.
const (
	StatusNamespace  = "kube-system"
	StatusAnnotation = "weft.dev/agent-status"
	StatusLabel      = "app.kubernetes.io/name"
	StatusLabelValue = "weft-agent"
	// statusRefresh is how often an unchanged status is written again, so that a reader tells
	// a live agent from one that stopped: its renewTime stops moving.
	statusRefresh = 30 * time.Second
)

// waitingForPodCIDRs is the problem of a node sync that had nothing to do yet.
const waitingForPodCIDRs = "the Node has no podCIDRs yet: the controller-manager allocates them with --allocate-node-cidrs"

// StatusLeaseName is the Lease where node's agent publishes its status.
func StatusLeaseName(node string) string { return "weft-agent-" + node }

// Status is what an agent says about itself.
type Status struct {
	Version  string    `json:"version"`
	Backend  string    `json:"backend"`
	Proxy    string    `json:"proxy"`
	DNS      string    `json:"dns"`
	LastSync time.Time `json:"lastSync,omitzero"`
	// Problems are what needs a person: a failed sync, an unreachable peer, a stopped feature.
	Problems []string `json:"problems,omitempty"`
}

// statusBoard gathers the problems features report and publishes them with the node sync's.
type statusBoard struct {
	mu        sync.Mutex
	features  map[string]string // feature -> why it stopped
	published Status
	at        time.Time
	synced    time.Time // the last successful node sync, published or not
}

func (b *statusBoard) featureStopped(name string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.features == nil {
		b.features = map[string]string{}
	}
	b.features[name] = fmt.Sprintf("%s stopped: %v", name, err)
}

// publishStatus writes this agent's Lease after a node sync when what it says changed, or when
// the last write is older than statusRefresh. A failure is returned, never fatal to the sync.
func (a *Agent) publishStatus(ctx context.Context, syncErr error, unreachable []string) error {
	st := Status{Version: version.Weft, Backend: a.opts.Backend, Proxy: a.opts.Proxy, DNS: a.opts.DNS.Mode}
	if syncErr != nil {
		st.Problems = append(st.Problems, "node sync failed: "+syncErr.Error())
	}
	st.Problems = append(st.Problems, unreachable...)
	b := &a.status
	b.mu.Lock()
	for _, p := range b.features {
		st.Problems = append(st.Problems, p)
	}
	slices.Sort(st.Problems)
	if syncErr == nil && !slices.Contains(unreachable, waitingForPodCIDRs) {
		b.synced = time.Now().UTC().Truncate(time.Second)
	}
	st.LastSync = b.synced
	same := st.Version == b.published.Version && st.Backend == b.published.Backend && st.Proxy == b.published.Proxy &&
		st.DNS == b.published.DNS && slices.Equal(st.Problems, b.published.Problems)
	fresh := time.Since(b.at) < statusRefresh
	b.mu.Unlock()
	if same && fresh {
		return nil
	}
	if err := a.writeStatusLease(ctx, st); err != nil {
		return err
	}
	b.mu.Lock()
	b.published, b.at = st, time.Now()
	b.mu.Unlock()
	return nil
}

func (a *Agent) writeStatusLease(ctx context.Context, st Status) error {
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	leases := a.client.CoordinationV1().Leases(StatusNamespace)
	name := StatusLeaseName(a.opts.NodeName)
	now := metav1.NewMicroTime(time.Now())
	holder := a.opts.NodeName
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: StatusNamespace,
			Labels: map[string]string{StatusLabel: StatusLabelValue, "app.kubernetes.io/part-of": "weft"}}}
		lease.Annotations = map[string]string{StatusAnnotation: string(body)}
		lease.Spec = coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &now}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
	} else if err == nil {
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[StatusAnnotation] = string(body)
		lease.Spec.HolderIdentity, lease.Spec.RenewTime = &holder, &now
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("publish the agent's status in Lease %s/%s: %w", StatusNamespace, name, err)
	}
	return nil
}

// ParseStatus reads the status an agent published on its Lease.
func ParseStatus(lease *coordinationv1.Lease) (Status, error) {
	var st Status
	raw, ok := lease.Annotations[StatusAnnotation]
	if !ok {
		return st, fmt.Errorf("Lease %s has no %s annotation", lease.Name, StatusAnnotation)
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return st, fmt.Errorf("Lease %s: annotation %s: %w", lease.Name, StatusAnnotation, err)
	}
	return st, nil
}
