package loadbalancer

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// The Lease whose holder writes LoadBalancer statuses. One writer means agents never race on
// a Service's status; a Lease, unlike "the first Ready node by name", hands the job over
// within seconds when its holder stops, and never to two agents at once because they briefly
// disagree about which nodes are Ready.
const (
	StatusLeaseName      = "weft-loadbalancer-status"
	StatusLeaseNamespace = "kube-system"
)

// How long the Lease lasts unrenewed, how long its holder keeps trying to renew it, and how
// often the others try to take it (client-go's defaults for controllers, halved: a status
// write waits at most this long after a holder crashed; a holder that stops cleanly releases it).
const (
	statusLeaseDuration = 15 * time.Second
	statusLeaseRenew    = 10 * time.Second
	statusLeaseRetry    = 2 * time.Second
)

// statusLease tells whether this agent holds the status Lease.
type statusLease struct{ held atomic.Bool }

// run competes for the Lease until ctx ends, calling changed whenever this agent gains it (so
// statuses are written at once). It releases the Lease when ctx ends.
func (s *statusLease) run(ctx context.Context, client kubernetes.Interface, identity string, log *slog.Logger, changed func()) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: StatusLeaseName, Namespace: StatusLeaseNamespace},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	for ctx.Err() == nil {
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: StatusLeaseName, ReleaseOnCancel: true,
			LeaseDuration: statusLeaseDuration, RenewDeadline: statusLeaseRenew, RetryPeriod: statusLeaseRetry,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) {
					log.Info("writing LoadBalancer statuses", "lease", StatusLeaseNamespace+"/"+StatusLeaseName)
					s.held.Store(true)
					changed()
				},
				OnStoppedLeading: func() { s.held.Store(false) },
			},
		})
		if err != nil {
			log.Error("LoadBalancer status lease", "err", err)
			return
		}
		elector.Run(ctx) // returns when the Lease is lost or ctx ends; then compete again
	}
}
