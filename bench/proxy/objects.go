package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Every proxier sees the same synthetic cluster: n Services in namespace "bench", each with one
// TCP port 80, a ClusterIP in 10.96.0.0/12 and i%3+2 ready endpoints on port 8080 in
// 10.64.0.0/12, one EndpointSlice each; and the ServiceCIDR both proxies read. The ranges hold
// 100k Services and their endpoints, each with an address of its own, as a large cluster has.
const (
	benchNS      = "bench"
	servicePort  = 80
	endpointPort = 8080
	nodeName     = "bench-node"
	serviceCIDR  = "10.96.0.0/12"
	clusterCIDR  = "10.64.0.0/12"
	// firstService leaves 10.96.0.1 (kubernetes) and 10.96.0.10 (DNS) alone, as in a cluster.
	firstService = 100
	// maxServices fit the ranges: a ClusterIP each, four endpoint addresses each.
	maxServices = 200000
)

// resourceVersions stands in for the API server's: every object written gets a new one, as
// informers (weft's among them) tell a change from a relist by it; the fake clientset keeps
// whatever it is given.
var resourceVersions atomic.Int64

func stamp[T metav1.Object](o T) T {
	o.SetResourceVersion(strconv.FormatInt(resourceVersions.Add(1), 10))
	return o
}

// connectTargets are the services the connect test cycles through: eight spread over the
// range (all of them below eight). iptables mode matches ClusterIPs one rule after another in
// an order of its own, so one service alone would land anywhere between its best and worst case.
func connectTargets(n int) []int {
	var t []int
	for k := range min(n, 8) {
		t = append(t, k*n/min(n, 8))
	}
	return t
}

func serviceName(i int) string { return fmt.Sprintf("svc-%d", i) }

func clusterIP(i int) netip.Addr {
	v := 10<<24 | 96<<16 | uint32(firstService+i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func endpointCount(i int) int { return i%3 + 2 }

// endpointIP is the e-th address of service i, from 10.64.1.0 on (10.64.0.0/24 stays clear).
func endpointIP(i, e int) netip.Addr {
	v := 10<<24 | 64<<16 | uint32(256+4*i+e)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func service(i int) *corev1.Service {
	ip := clusterIP(i).String()
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: serviceName(i)},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeClusterIP,
			ClusterIP:      ip,
			ClusterIPs:     []string{ip},
			IPFamilies:     []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
			Selector:       map[string]string{"app": serviceName(i)},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: servicePort,
				TargetPort: intstr.FromInt32(endpointPort)}},
		},
	}
}

// endpointSlice is service i's slice with k endpoints.
func endpointSlice(i, k int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNS, Name: serviceName(i) + "-abcde",
			Labels: map[string]string{discoveryv1.LabelServiceName: serviceName(i)}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP),
			Port: ptr.To[int32](endpointPort)}},
	}
	for e := range k {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{endpointIP(i, e).String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			NodeName:   ptr.To(fmt.Sprintf("node-%d", e)),
		})
	}
	return s
}

// cluster is the n services, their slices and the ServiceCIDR, for a fake clientset.
func cluster(n int) []runtime.Object {
	objs := make([]runtime.Object, 0, 2*n+1)
	objs = append(objs, stamp(&networkingv1.ServiceCIDR{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes"},
		Spec:       networkingv1.ServiceCIDRSpec{CIDRs: []string{serviceCIDR}},
	}))
	for i := range n {
		objs = append(objs, stamp(service(i)), stamp(endpointSlice(i, endpointCount(i))))
	}
	return objs
}
