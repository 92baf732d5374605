package noderuntime

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The portMappings capability is what containerd passes: every container's ports with a
// hostPort, protocol in lower case, hostIP as given.
func TestCapabilityArgs(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "a", Ports: []corev1.ContainerPort{
			{ContainerPort: 8080, HostPort: 54323, Protocol: corev1.ProtocolTCP, HostIP: "127.0.0.1"},
			{ContainerPort: 9090}, // no hostPort: not mapped
		}},
		{Name: "b", Ports: []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 54323, Protocol: corev1.ProtocolUDP, HostIP: "192.168.1.11"}, {ContainerPort: 53, HostPort: 53}}},
	}}}
	b, err := json.Marshal(capabilityArgs(pod))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"portMappings":[{"hostPort":54323,"containerPort":8080,"protocol":"tcp","hostIP":"127.0.0.1"},{"hostPort":54323,"containerPort":8080,"protocol":"udp","hostIP":"192.168.1.11"},{"hostPort":53,"containerPort":53,"protocol":"tcp"}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if args := capabilityArgs(&corev1.Pod{}); args != nil {
		t.Errorf("a pod without hostPorts: %v, want none", args)
	}
}
