// Package kubenode reads facts from Node objects that more than one part of weft needs, so each
// fact is read one way: the lab's status and its wait for nodes, and the service proxy's choice
// of the node that writes LoadBalancer status, must agree on what a Ready node is.
package kubenode

import corev1 "k8s.io/api/core/v1"

// Ready says whether n's Ready condition is True, as the kubelet (or the lab's node runtime)
// last reported it. A Node with no Ready condition yet is not ready.
func Ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
