package noderuntime

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestImageBase(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                        "nginx",
		"nginx:1.27":                   "nginx",
		"docker.io/library/nginx:1.27": "nginx",
		"busybox@sha256:abc":           "busybox",
		"registry.k8s.io/e2e-test-images/agnhost": "e2e-test-images/agnhost",
		"localhost:5000/team/app:v1":              "team/app",
		"ghcr.io/weftnet/weft:v0.1":               "weftnet/weft",
	} {
		if got := imageBase(in); got != want {
			t.Errorf("imageBase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProgramFor(t *testing.T) {
	bb, err := busyboxPath()
	if err != nil {
		t.Skip("busybox-static is not installed here: " + err.Error())
	}
	for _, tc := range []struct {
		name string
		c    corev1.Container
		want string
		err  string
	}{
		{"busybox command", corev1.Container{Image: "busybox:1.28", Command: []string{"sleep"}, Args: []string{"3600"}}, bb + " sleep 3600", ""},
		{"busybox default shell", corev1.Container{Image: "busybox"}, bb + " sh", ""},
		{"web image", corev1.Container{Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}}, "/weft internal http-server --name p --ports 8080", ""},
		{"weft image", corev1.Container{Image: "ghcr.io/weftnet/weft", Args: []string{"version"}}, "/weft version", ""},
		{"command from PATH", corev1.Container{Image: "debian", Command: []string{"sh", "-c", "true"}}, "/sh -c true", ""},
		{"missing program", corev1.Container{Image: "debian", Command: []string{"no-such-program-here"}}, "", "executable file not found"},
		{"no command", corev1.Container{Image: "postgres"}, "", "give command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv, err := programFor(&tc.c, "p", "/weft")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v (argv %v)", tc.err, err, argv)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(argv, " "); !strings.HasSuffix(got, tc.want) {
				t.Errorf("argv %q, want it to end in %q", got, tc.want)
			}
		})
	}
}
