package podfiles

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: []string{ip}, Ports: ports},
	}
}

func port(name string, p int32, proto corev1.Protocol) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: p, Protocol: proto}
}

func envText(env []EnvVar) string {
	var b strings.Builder
	for _, e := range env {
		b.WriteString(e.Name + "=" + e.Value + "\n")
	}
	return b.String()
}

const kubernetesEnv = `KUBERNETES_SERVICE_HOST=10.96.0.1
KUBERNETES_SERVICE_PORT=443
KUBERNETES_SERVICE_PORT_HTTPS=443
KUBERNETES_PORT=tcp://10.96.0.1:443
KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443
KUBERNETES_PORT_443_TCP_PROTO=tcp
KUBERNETES_PORT_443_TCP_PORT=443
KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1
`

const webEnv = `WEB_SERVICE_HOST=fd00:10:96::1a
WEB_SERVICE_PORT=80
WEB_SERVICE_PORT_HTTP=80
WEB_SERVICE_PORT_DNS_UDP=53
WEB_PORT=tcp://[fd00:10:96::1a]:80
WEB_PORT_80_TCP=tcp://[fd00:10:96::1a]:80
WEB_PORT_80_TCP_PROTO=tcp
WEB_PORT_80_TCP_PORT=80
WEB_PORT_80_TCP_ADDR=fd00:10:96::1a
WEB_PORT_53_UDP=udp://[fd00:10:96::1a]:53
WEB_PORT_53_UDP_PROTO=udp
WEB_PORT_53_UDP_PORT=53
WEB_PORT_53_UDP_ADDR=fd00:10:96::1a
`

// labServices is what a node's informer would hold.
func labServices() []*corev1.Service {
	web := svc("lab", "web", "fd00:10:96::1a", port("http", 80, corev1.ProtocolTCP), port("dns-udp", 53, corev1.ProtocolUDP))
	web.Spec.ClusterIPs = []string{"fd00:10:96::1a", "10.96.0.26"}
	web.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
	return []*corev1.Service{
		svc("default", "kubernetes", "10.96.0.1", port("https", 443, corev1.ProtocolTCP)),
		svc("lab", "my-svc", "10.96.0.30", port("", 8080, "")),
		svc("lab", "headless", corev1.ClusterIPNone, port("http", 80, corev1.ProtocolTCP)),
		svc("lab", "external", ""),
		svc("other", "db", "10.96.0.40", port("pg", 5432, corev1.ProtocolTCP)),
		svc("default", "not-kubernetes", "10.96.0.50", port("http", 80, corev1.ProtocolTCP)),
		web,
	}
}

func TestServiceEnv(t *testing.T) {
	mySvcEnv := `MY_SVC_SERVICE_HOST=10.96.0.30
MY_SVC_SERVICE_PORT=8080
MY_SVC_PORT=tcp://10.96.0.30:8080
MY_SVC_PORT_8080_TCP=tcp://10.96.0.30:8080
MY_SVC_PORT_8080_TCP_PROTO=tcp
MY_SVC_PORT_8080_TCP_PORT=8080
MY_SVC_PORT_8080_TCP_ADDR=10.96.0.30
`
	shadow := svc("lab", "kubernetes", "10.96.5.5", port("", 6443, corev1.ProtocolTCP))
	shadowEnv := `KUBERNETES_SERVICE_HOST=10.96.5.5
KUBERNETES_SERVICE_PORT=6443
KUBERNETES_PORT=tcp://10.96.5.5:6443
KUBERNETES_PORT_6443_TCP=tcp://10.96.5.5:6443
KUBERNETES_PORT_6443_TCP_PROTO=tcp
KUBERNETES_PORT_6443_TCP_PORT=6443
KUBERNETES_PORT_6443_TCP_ADDR=10.96.5.5
`
	noLinks := func(p *corev1.Pod) { p.Spec.EnableServiceLinks = ptr(false) }
	tests := []struct {
		name     string
		pod      *corev1.Pod
		services []*corev1.Service
		want     string
	}{
		{"same namespace plus default/kubernetes, IPv6 primary bracketed in URLs", testPod("lab", "p"), labServices(), kubernetesEnv + mySvcEnv + webEnv},
		{"enableServiceLinks=true explicitly", testPod("lab", "p", func(p *corev1.Pod) { p.Spec.EnableServiceLinks = ptr(true) }), labServices(), kubernetesEnv + mySvcEnv + webEnv},
		{"enableServiceLinks=false keeps only kubernetes", testPod("lab", "p", noLinks), labServices(), kubernetesEnv},
		{"pod in default sees all of default", testPod("default", "p"), labServices(), kubernetesEnv + `NOT_KUBERNETES_SERVICE_HOST=10.96.0.50
NOT_KUBERNETES_SERVICE_PORT=80
NOT_KUBERNETES_SERVICE_PORT_HTTP=80
NOT_KUBERNETES_PORT=tcp://10.96.0.50:80
NOT_KUBERNETES_PORT_80_TCP=tcp://10.96.0.50:80
NOT_KUBERNETES_PORT_80_TCP_PROTO=tcp
NOT_KUBERNETES_PORT_80_TCP_PORT=80
NOT_KUBERNETES_PORT_80_TCP_ADDR=10.96.0.50
`},
		{"pod in default without links", testPod("default", "p", noLinks), labServices(), kubernetesEnv},
		{"own-namespace kubernetes shadows default's", testPod("lab", "p"), append([]*corev1.Service{shadow}, labServices()...), shadowEnv + mySvcEnv + webEnv},
		{"own-namespace kubernetes ignored without links", testPod("lab", "p", noLinks), append(labServices(), shadow), kubernetesEnv},
		{"no services", testPod("lab", "p"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := envText(ServiceEnv(tt.pod, tt.services)); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
