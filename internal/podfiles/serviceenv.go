package podfiles

import (
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnvVar is one variable of a container's environment.
type EnvVar struct{ Name, Value string }

// apiServerService is the one service whose links every pod gets.
const apiServerService = "kubernetes"

// ServiceEnv returns the service-link variables the kubelet injects into the
// pod's containers, from services (all the services the node knows; they are
// filtered here).
//
// A service counts when its clusterIP is set (not "" and not "None") and it is
// either default/kubernetes, or in the pod's namespace while
// spec.enableServiceLinks is true (nil counts as true, the API default). A
// service named "kubernetes" in the pod's own namespace shadows
// default/kubernetes. Only spec.clusterIP (the primary family) is used.
//
// Per service NAME (upper-cased, '-' → '_'), with the first port special:
//
//	NAME_SERVICE_HOST=<clusterIP>
//	NAME_SERVICE_PORT=<first port>
//	NAME_SERVICE_PORT_<PORTNAME>=<port>        every named port
//	NAME_PORT=<proto>://<host:port>            first port
//	NAME_PORT_<port>_<PROTO>=<proto>://<host:port>
//	NAME_PORT_<port>_<PROTO>_PROTO=<proto>
//	NAME_PORT_<port>_<PROTO>_PORT=<port>
//	NAME_PORT_<port>_<PROTO>_ADDR=<clusterIP>
//
// host:port brackets an IPv6 clusterIP; _SERVICE_HOST and _ADDR do not.
// Services come out sorted by name (the kubelet's order is random map order).
// A service without ports, which would crash the kubelet, is skipped.
func ServiceEnv(pod *corev1.Pod, services []*corev1.Service) []EnvVar {
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	byName := map[string]*corev1.Service{}
	for _, svc := range services {
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
			continue
		}
		switch {
		case svc.Namespace == pod.Namespace && links:
			byName[svc.Name] = svc
		case svc.Namespace == metav1.NamespaceDefault && svc.Name == apiServerService:
			if _, ok := byName[svc.Name]; !ok {
				byName[svc.Name] = svc
			}
		}
	}
	var env []EnvVar
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		env = append(env, serviceLinks(byName[name])...)
	}
	return env
}

func serviceLinks(svc *corev1.Service) []EnvVar {
	prefix := envName(svc.Name)
	ip := svc.Spec.ClusterIP
	first := strconv.Itoa(int(svc.Spec.Ports[0].Port))
	env := []EnvVar{
		{prefix + "_SERVICE_HOST", ip},
		{prefix + "_SERVICE_PORT", first},
	}
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			env = append(env, EnvVar{prefix + "_SERVICE_PORT_" + envName(p.Name), strconv.Itoa(int(p.Port))})
		}
	}
	for i, p := range svc.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		port := strconv.Itoa(int(p.Port))
		url := strings.ToLower(proto) + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			env = append(env, EnvVar{prefix + "_PORT", url})
		}
		pp := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
		env = append(env,
			EnvVar{pp, url},
			EnvVar{pp + "_PROTO", strings.ToLower(proto)},
			EnvVar{pp + "_PORT", port},
			EnvVar{pp + "_ADDR", ip},
		)
	}
	return env
}

func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
