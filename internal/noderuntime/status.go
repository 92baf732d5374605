package noderuntime

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// status computes the pod's status as the kubelet would report it now.
func (w *podWorker) status() corev1.PodStatus {
	pod := w.pod
	st := corev1.PodStatus{
		HostIP:    w.rt.nodeIPStrings()[0],
		StartTime: pod.Status.StartTime,
		QOSClass:  pod.Status.QOSClass,
	}
	if st.StartTime == nil {
		now := metav1.Now()
		st.StartTime = &now
	}
	for _, ip := range w.rt.nodeIPStrings() {
		st.HostIPs = append(st.HostIPs, corev1.HostIP{IP: ip})
	}
	if w.netReady || w.terminal {
		for _, ip := range w.ips {
			st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
		}
		if len(w.ips) > 0 {
			st.PodIP = w.ips[0]
		}
	}
	uid := string(pod.UID)
	initDone, allReady, anyRunning := true, true, false
	succeeded, failed, allTerminated := true, false, true
	for _, c := range w.containers {
		cs := c.status(uid)
		if c.sidecar() {
			// A sidecar counts as initialized once it has started (a restart later does not
			// take the pod back to Pending), and its readiness is part of the pod's.
			st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
			_, started := c.instance()
			initDone = initDone && started
			allReady = allReady && cs.Ready
			continue
		}
		if c.init {
			st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
			if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
				initDone = false
				if t := cs.State.Terminated; t != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
					failed = true
				}
			}
			continue
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		allReady = allReady && cs.Ready
		if cs.State.Running != nil {
			anyRunning = true
		}
		if t := cs.State.Terminated; t != nil {
			if t.ExitCode != 0 {
				succeeded = false
				failed = failed || pod.Spec.RestartPolicy == corev1.RestartPolicyNever
			}
		} else {
			allTerminated, succeeded = false, false
		}
	}
	switch {
	case failed && !anyRunning && (allTerminated || !initDone):
		st.Phase = corev1.PodFailed
	case initDone && allTerminated && succeeded && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways:
		st.Phase = corev1.PodSucceeded
	case initDone && (anyRunning || allTerminated):
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	if w.evicted != "" {
		st.Phase, st.Reason, st.Message = corev1.PodFailed, "Evicted", w.evicted
	}
	terminalPhase := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	ready := initDone && allReady && !terminalPhase
	cond := func(t corev1.PodConditionType, ok bool, reason string) {
		s := corev1.ConditionFalse
		if ok {
			s, reason = corev1.ConditionTrue, ""
		}
		st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: s, Reason: reason})
	}
	cond(corev1.PodReadyToStartContainers, w.netReady && !w.terminal, "")
	cond(corev1.PodInitialized, initDone, "ContainersNotInitialized")
	cond(corev1.ContainersReady, ready, "ContainersNotReady")
	podReady, reason := ready, "ContainersNotReady"
	if ready && !readinessGatesTrue(pod) {
		podReady, reason = false, "ReadinessGatesNotReady"
	}
	cond(corev1.PodReady, podReady, reason)
	cond(corev1.PodScheduled, true, "")
	// Conditions other components own (those a readiness gate names) are kept as they are:
	// the kubelet only ever writes its own.
	for _, c := range pod.Status.Conditions {
		if !kubeletConditions[c.Type] {
			st.Conditions = append(st.Conditions, c)
		}
	}
	if terminalPhase {
		for i := range st.Conditions {
			if st.Conditions[i].Type == corev1.PodReady || st.Conditions[i].Type == corev1.ContainersReady {
				st.Conditions[i].Reason = "PodCompleted"
			}
		}
	}
	return st
}

// kubeletConditions are the pod conditions the kubelet (here, the node runtime) writes.
var kubeletConditions = map[corev1.PodConditionType]bool{
	corev1.PodReadyToStartContainers: true,
	corev1.PodInitialized:            true,
	corev1.ContainersReady:           true,
	corev1.PodReady:                  true,
	corev1.PodScheduled:              true,
}

// readinessGatesTrue tells whether every condition the pod's readinessGates name is True: until
// then the pod is not Ready, whatever its containers say, and its endpoints stay not ready.
func readinessGatesTrue(pod *corev1.Pod) bool {
	for _, gate := range pod.Spec.ReadinessGates {
		found := false
		for _, c := range pod.Status.Conditions {
			if c.Type == gate.ConditionType {
				found = c.Status == corev1.ConditionTrue
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// publish writes the status when it differs from what was last written, keeping each
// condition's transition time while its status holds.
func (w *podWorker) publish(ctx context.Context) {
	st := w.status()
	if w.lastStatus != nil && apiequality.Semantic.DeepEqual(comparable(*w.lastStatus), comparable(st)) {
		return
	}
	now := metav1.Now()
	old := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range w.pod.Status.Conditions {
		old[c.Type] = c
	}
	for i, c := range st.Conditions {
		st.Conditions[i].LastTransitionTime = now
		if o, ok := old[c.Type]; ok && o.Status == c.Status {
			st.Conditions[i].LastTransitionTime = o.LastTransitionTime
		}
	}
	pod := w.pod.DeepCopy()
	pod.Status = st
	updated, err := w.rt.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		w.rt.log.Info("pod status update", "pod", key(pod), "err", err)
		// A conflict means our copy is stale: read it back and try on the next step.
		if fresh, gerr := w.rt.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); gerr == nil && fresh.UID == pod.UID {
			w.setPod(fresh)
		}
		return
	}
	w.setPod(updated)
	w.lastStatus = &st
}

// comparable drops what changes without meaning anything (timestamps of conditions).
func comparable(st corev1.PodStatus) corev1.PodStatus {
	st = *st.DeepCopy()
	for i := range st.Conditions {
		st.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	st.StartTime = nil
	return st
}

func isTerminal(st *corev1.PodStatus) bool {
	return st != nil && (st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed)
}
