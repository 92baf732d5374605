package dns

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StripForDNS keeps of each object what the DNS records use, for an informer factory that
// serves the DNS alone (`weft internal dns-server`): a Service or EndpointSlice stripped this
// way is a third of its size. The agent's factory shares Services and EndpointSlices with the
// service proxy, which reads more of them, so only its Pods are stripped (stripPod).
func StripForDNS(obj any) (any, error) {
	switch obj.(type) {
	case *corev1.Service:
		return stripService(obj)
	case *discoveryv1.EndpointSlice:
		return stripSlice(obj)
	case *corev1.Pod:
		return stripPod(obj)
	}
	return obj, nil
}

// meta keeps what an informer's store and the records use.
func meta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, ResourceVersion: m.ResourceVersion, DeletionTimestamp: m.DeletionTimestamp}
}

func stripService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	out := &corev1.Service{ObjectMeta: meta(s.ObjectMeta), Spec: corev1.ServiceSpec{Type: s.Spec.Type, ClusterIP: s.Spec.ClusterIP,
		ExternalName: s.Spec.ExternalName, PublishNotReadyAddresses: s.Spec.PublishNotReadyAddresses}}
	if len(s.Spec.ClusterIPs) > 1 || (len(s.Spec.ClusterIPs) == 1 && s.Spec.ClusterIPs[0] != s.Spec.ClusterIP) {
		out.Spec.ClusterIPs = s.Spec.ClusterIPs
	} else if len(s.Spec.ClusterIPs) == 1 {
		out.Spec.ClusterIPs = []string{out.Spec.ClusterIP} // shares ClusterIP's string
	}
	for _, p := range s.Spec.Ports {
		if p.Name != "" {
			out.Spec.Ports = append(out.Spec.Ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port})
		}
	}
	return out, nil
}

func stripSlice(obj any) (any, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	out := &discoveryv1.EndpointSlice{ObjectMeta: meta(s.ObjectMeta), AddressType: s.AddressType, Ports: s.Ports}
	if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
		out.Labels = map[string]string{discoveryv1.LabelServiceName: svc}
	}
	out.Endpoints = make([]discoveryv1.Endpoint, len(s.Endpoints))
	for i, e := range s.Endpoints {
		out.Endpoints[i] = discoveryv1.Endpoint{Addresses: e.Addresses, Hostname: e.Hostname, Conditions: discoveryv1.EndpointConditions{Ready: e.Conditions.Ready}}
	}
	return out, nil
}
