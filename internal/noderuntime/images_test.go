package noderuntime

import (
	"os"
	"path/filepath"
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

// testImages has an images directory with executables agnhost, coredns and a single-program
// image's, and a fake certificate.
func testImages(t *testing.T, withAgnhost bool) images {
	dir := t.TempDir()
	if withAgnhost {
		for _, program := range []string{"agnhost", "coredns", "regression-issue-74839"} {
			if err := os.WriteFile(filepath.Join(dir, program), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return images{weftBin: "/weft", shimBin: "/weft-shim", dir: dir,
		cert: func() (string, string, error) { return "/c/localhost.crt", "/c/localhost.key", nil }}
}

func TestImageRun(t *testing.T) {
	bb, err := busyboxPath()
	if err != nil {
		t.Skip("busybox-static is not installed here: " + err.Error())
	}
	const agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.53"
	for _, tc := range []struct {
		name  string
		c     corev1.Container
		want  string
		files string // targets of the image's files
		err   string
	}{
		{"busybox command", corev1.Container{Image: "busybox:1.28", Command: []string{"sleep"}, Args: []string{"3600"}}, bb + " sleep 3600", "", ""},
		{"busybox default shell", corev1.Container{Image: "busybox"}, bb + " sh", "", ""},
		{"web image", corev1.Container{Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}}, "/.weft/weft internal http-server --name p --ports 8080", "/.weft/weft", ""},
		{"e2e nginx", corev1.Container{Image: "registry.k8s.io/e2e-test-images/nginx:1.14-4"}, "/.weft/weft internal http-server --name p --ports 80", "/.weft/weft", ""},
		{"weft image", corev1.Container{Image: "ghcr.io/weftnet/weft", Args: []string{"version"}}, "/usr/local/bin/weft version", "/usr/local/bin/weft", ""},
		{"weft image command", corev1.Container{Image: "ghcr.io/weftnet/weft:latest", Command: []string{"weft", "agent"}, Args: []string{"--proxy=none"}}, "weft agent --proxy=none", "/usr/local/bin/weft", ""},
		{"agnhost default", corev1.Container{Image: agnhost}, "/agnhost pause", "/agnhost /localhost.crt /localhost.key /coredns", ""},
		{"agnhost args", corev1.Container{Image: agnhost, Args: []string{"netexec", "--http-port=8083"}}, "/agnhost netexec --http-port=8083", "/agnhost /localhost.crt /localhost.key /coredns", ""},
		{"agnhost command", corev1.Container{Image: agnhost, Command: []string{"sh", "-c"}, Args: []string{"/agnhost serve-hostname"}}, "sh -c /agnhost serve-hostname", "/agnhost /localhost.crt /localhost.key /coredns", ""},
		{"agnhost runs CoreDNS", corev1.Container{Image: agnhost, Command: []string{"/coredns"}, Args: []string{"-conf", "/etc/coredns/Corefile"}}, "/coredns -conf /etc/coredns/Corefile", "/agnhost /localhost.crt /localhost.key /coredns", ""},
		{"pause", corev1.Container{Image: "registry.k8s.io/pause:3.10"}, "/pause", "/pause", ""},
		{"a program from the images directory", corev1.Container{Image: "registry.k8s.io/e2e-test-images/regression-issue-74839:1.5"}, "/regression-issue-74839", "/regression-issue-74839", ""},
		{"jessie-dnsutils with command", corev1.Container{Image: "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7", Command: []string{"sh", "-c", "true"}}, "/sh -c true", "", ""},
		{"jessie-dnsutils waits", corev1.Container{Image: "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7"}, "/pause", "/pause", ""},
		{"command from PATH", corev1.Container{Image: "debian", Command: []string{"sh", "-c", "true"}}, "/sh -c true", "", ""},
		{"missing program", corev1.Container{Image: "debian", Command: []string{"no-such-program-here"}}, "", "", "executable file not found"},
		{"no command", corev1.Container{Image: "postgres"}, "", "", "give command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := testImages(t, true).run(&tc.c, "p")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v (argv %v)", tc.err, err, run.argv)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(run.argv, " "); !strings.HasSuffix(got, tc.want) {
				t.Errorf("argv %q, want it to end in %q", got, tc.want)
			}
			var targets []string
			for _, f := range run.files {
				targets = append(targets, f.Target)
				if !f.ReadOnly {
					t.Errorf("image file %s is writable", f.Target)
				}
			}
			if got := strings.Join(targets, " "); got != tc.files {
				t.Errorf("image files %q, want %q", got, tc.files)
			}
		})
	}
}

func TestAgnhostMissingSaysHowToProvideIt(t *testing.T) {
	im := testImages(t, false)
	_, err := im.run(&corev1.Container{Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Args: []string{"netexec"}}, "p")
	if err == nil {
		t.Fatal("want an error without an agnhost binary")
	}
	for _, want := range []string{"go build", "--images-dir", filepath.Join(im.dir, "agnhost"), "executable file not found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLocalhostCertMadeOnce(t *testing.T) {
	l := &localhostCert{dir: t.TempDir()}
	crt, key, err := l.paths()
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(crt)
	if !strings.Contains(string(first), "BEGIN CERTIFICATE") {
		t.Fatalf("%s is not a PEM certificate", crt)
	}
	if b, _ := os.ReadFile(key); !strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatalf("%s is not a PEM key", key)
	}
	again := &localhostCert{dir: l.dir}
	if _, _, err := again.paths(); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(crt); string(second) != string(first) {
		t.Error("the certificate was made again; want it made once and kept")
	}
}
