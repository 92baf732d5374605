package podfiles

import (
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// fieldRefValue resolves env[].valueFrom.fieldRef.
func fieldRefValue(pod *corev1.Pod, ref *corev1.ObjectFieldSelector, facts PodFacts) (string, error) {
	// The API server defaults an empty apiVersion to v1.
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		return "", fmt.Errorf("fieldRef: unsupported apiVersion %q", ref.APIVersion)
	}
	path := ref.FieldPath
	if base, key, ok := splitSubscript(path); ok {
		switch base {
		case "metadata.labels":
			if msgs := validation.IsQualifiedName(key); len(msgs) != 0 {
				return "", fmt.Errorf("fieldRef: invalid key subscript in %s: %s", path, strings.Join(msgs, "; "))
			}
			return pod.Labels[key], nil
		case "metadata.annotations":
			// Annotation keys are checked case-insensitively, looked up as given.
			if msgs := validation.IsQualifiedName(strings.ToLower(key)); len(msgs) != 0 {
				return "", fmt.Errorf("fieldRef: invalid key subscript in %s: %s", path, strings.Join(msgs, "; "))
			}
			return pod.Annotations[key], nil
		}
		return "", fmt.Errorf("fieldRef: field %q does not support a subscript", path)
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName", "spec.host":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		var ips []string
		for _, s := range facts.HostIPs {
			if ip := net.ParseIP(s); ip != nil {
				ips = append(ips, ip.String())
			}
		}
		if len(ips) == 0 {
			return "", fmt.Errorf("fieldRef %s: the node has no IP address", path)
		}
		if path == "status.hostIP" {
			return ips[0], nil
		}
		return strings.Join(ips, ","), nil
	case "status.podIP", "status.podIPs":
		ips := downwardPodIPs(facts)
		if path == "status.podIPs" {
			return strings.Join(ips, ","), nil
		}
		if len(ips) > 0 {
			return ips[0], nil
		}
		if len(facts.PodIPs) > 0 {
			return facts.PodIPs[0], nil
		}
		return "", nil
	}
	return "", fmt.Errorf("fieldRef: unsupported fieldPath %q", path)
}

// splitSubscript splits "base['key']".
func splitSubscript(path string) (base, key string, ok bool) {
	s, found := strings.CutSuffix(path, "']")
	if !found {
		return "", "", false
	}
	base, key, found = strings.Cut(s, "['")
	if !found || base == "" {
		return "", "", false
	}
	return base, key, true
}

// formatMap renders a label or annotation map for the downward API: sorted
// `key="value"` lines, values quoted as Go string literals.
func formatMap(m map[string]string) string {
	lines := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lines = append(lines, k+"="+strconv.Quote(m[k]))
	}
	return strings.Join(lines, "\n")
}

// downwardPodIPs keeps the first valid pod IP of the node's primary family
// (IPv4 when the node has no IP) and then the first of the other family,
// each in canonical form.
func downwardPodIPs(facts PodFacts) []string {
	primaryV4 := true
	if len(facts.HostIPs) > 0 {
		if ip := net.ParseIP(facts.HostIPs[0]); ip != nil && ip.To4() == nil {
			primaryV4 = false
		}
	}
	var out []string
	for _, wantV4 := range []bool{primaryV4, !primaryV4} {
		for _, s := range facts.PodIPs {
			ip := net.ParseIP(s)
			if ip != nil && (ip.To4() != nil) == wantV4 {
				out = append(out, ip.String())
				break
			}
		}
	}
	return out
}

// downwardDefaulted lists the resources whose missing or zero limit reads as
// the node's allocatable.
var downwardDefaulted = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}

// resourceFieldRefValue resolves env[].valueFrom.resourceFieldRef for
// container c, or for the container the ref names.
func resourceFieldRefValue(pod *corev1.Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector, allocatable corev1.ResourceList) (string, error) {
	allocatable = podLevelAllocatable(pod, allocatable)
	var target corev1.Container
	switch {
	case ref.ContainerName == "":
		target = withDefaultLimits(c, allocatable)
	default:
		// Like the kubelet, regular containers of the pod get default
		// limits and init containers do not.
		found := false
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == ref.ContainerName {
				target, found = withDefaultLimits(&pod.Spec.Containers[i], allocatable), true
				break
			}
		}
		for i := 0; !found && i < len(pod.Spec.InitContainers); i++ {
			if pod.Spec.InitContainers[i].Name == ref.ContainerName {
				target, found = pod.Spec.InitContainers[i], true
			}
		}
		if !found {
			return "", fmt.Errorf("resourceFieldRef: container %q not found", ref.ContainerName)
		}
	}

	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := target.Resources.Requests
	if kind == "limits" {
		list = target.Resources.Limits
	}
	rn := corev1.ResourceName(name)
	switch {
	case kind != "limits" && kind != "requests":
	case rn == corev1.ResourceCPU:
		q := list[rn]
		return ceilDiv(float64(q.MilliValue()), float64(divisor.MilliValue())), nil
	case rn == corev1.ResourceMemory, rn == corev1.ResourceEphemeralStorage,
		strings.HasPrefix(name, corev1.ResourceHugePagesPrefix):
		q := list[rn]
		return ceilDiv(float64(q.Value()), float64(divisor.Value())), nil
	}
	return "", fmt.Errorf("resourceFieldRef: unsupported container resource %q", ref.Resource)
}

func ceilDiv(v, divisor float64) string {
	return strconv.FormatInt(int64(math.Ceil(v/divisor)), 10)
}

// podLevelAllocatable lets pod-level cpu and memory limits stand in for the
// node's allocatable, when the node reports that resource at all.
func podLevelAllocatable(pod *corev1.Pod, allocatable corev1.ResourceList) corev1.ResourceList {
	r := pod.Spec.Resources
	if r == nil || !hasPodLevelLimits(r.Limits) {
		return allocatable
	}
	out := allocatable.DeepCopy()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if v, ok := r.Limits[name]; ok && !v.IsZero() {
			if _, ok := out[name]; ok {
				out[name] = v.DeepCopy()
			}
		}
	}
	return out
}

func hasPodLevelLimits(limits corev1.ResourceList) bool {
	for name := range limits {
		if name == corev1.ResourceCPU || name == corev1.ResourceMemory ||
			strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
			return true
		}
	}
	return false
}

// withDefaultLimits returns a copy of c whose missing or zero cpu, memory and
// ephemeral-storage limits are the allocatable amounts.
func withDefaultLimits(c *corev1.Container, allocatable corev1.ResourceList) corev1.Container {
	out := *c.DeepCopy()
	if out.Resources.Limits == nil {
		out.Resources.Limits = corev1.ResourceList{}
	}
	for _, name := range downwardDefaulted {
		if q, ok := out.Resources.Limits[name]; !ok || q.IsZero() {
			if a, ok := allocatable[name]; ok {
				out.Resources.Limits[name] = a.DeepCopy()
			}
		}
	}
	return out
}
