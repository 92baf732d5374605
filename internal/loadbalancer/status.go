package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// writeStatuses writes each Service's allocated addresses into its status, and an event when
// the pool cannot serve it (once per new problem, not once per sync).
func (c *Controller) writeStatuses(ctx context.Context, services []*corev1.Service) error {
	var errs []error
	allocations := allocate(services, c.opts.Pools)
	for _, s := range services {
		al, ok := allocations[key(s)]
		if !ok {
			continue
		}
		if al.problem != "" && c.reported[key(s)] != al.problem {
			c.reported[key(s)] = al.problem
			errs = append(errs, c.event(ctx, s, "LoadBalancerPoolExhausted", al.problem))
		}
		var want []corev1.LoadBalancerIngress
		for _, ip := range al.ips {
			want = append(want, corev1.LoadBalancerIngress{IP: ip.String(), IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)})
		}
		if sameIngress(s.Status.LoadBalancer.Ingress, want) {
			continue
		}
		updated := s.DeepCopy()
		updated.Status.LoadBalancer.Ingress = want
		if _, err := c.client.CoreV1().Services(s.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("service %s: write load balancer status: %w", key(s), err))
		}
	}
	return errors.Join(errs...)
}

func sameIngress(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool { return x.IP == y.IP })
}

func (c *Controller) event(ctx context.Context, s *corev1.Service, reason, msg string) error {
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: s.Name + ".", Namespace: s.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: s.Namespace, Name: s.Name, UID: s.UID},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Count: 1,
		FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "weft-lb-pool", Host: c.opts.NodeName},
	}
	if _, err := c.client.CoreV1().Events(s.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("event for %s: %w", key(s), err)
	}
	return nil
}
