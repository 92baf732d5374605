package podfiles

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const boilerplate = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

func testPod(ns, name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: "uid-1"}}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func TestHostsFile(t *testing.T) {
	aliases := func(p *corev1.Pod) {
		p.Spec.HostAliases = []corev1.HostAlias{
			{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}},
			{IP: "10.1.2.3", Hostnames: []string{"foo.remote", "bar.remote"}},
		}
	}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		ips   []string
		want  string
		error string
	}{{
		name: "seed: hostaliases-pod",
		pod:  testPod("default", "hostaliases-pod", aliases),
		ips:  []string{"10.244.135.10"},
		want: `# Kubernetes-managed hosts file.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
fe00::0	ip6-mcastprefix
fe00::1	ip6-allnodes
fe00::2	ip6-allrouters
10.244.135.10	hostaliases-pod

# Entries added by HostAliases.
127.0.0.1	foo.local	bar.local
10.1.2.3	foo.remote	bar.remote
`,
	}, {
		name: "dual-stack: one line per IP in CRI order",
		pod:  testPod("default", "web"),
		ips:  []string{"10.42.0.5", "2001:cafe:42::5"},
		want: boilerplate + "10.42.0.5\tweb\n2001:cafe:42::5\tweb\n",
	}, {
		name: "hostname and subdomain give an FQDN",
		pod: testPod("lab", "web-0", func(p *corev1.Pod) {
			p.Spec.Hostname = "db"
			p.Spec.Subdomain = "backend"
		}),
		ips:  []string{"10.42.0.7", "fd00:42::7"},
		want: boilerplate + "10.42.0.7\tdb.backend.lab.svc.cluster.local\tdb\nfd00:42::7\tdb.backend.lab.svc.cluster.local\tdb\n",
	}, {
		name: "subdomain without hostname uses the pod name",
		pod:  testPod("lab", "web-0", func(p *corev1.Pod) { p.Spec.Subdomain = "web" }),
		ips:  []string{"10.42.0.8"},
		want: boilerplate + "10.42.0.8\tweb-0.web.lab.svc.cluster.local\tweb-0\n",
	}, {
		name: "hostnameOverride wins and drops the domain",
		pod: testPod("lab", "web-0", func(p *corev1.Pod) {
			p.Spec.HostnameOverride = ptr("my.host")
			p.Spec.Subdomain = "web"
		}),
		ips:  []string{"10.42.0.9"},
		want: boilerplate + "10.42.0.9\tmy.host\n",
	}, {
		name: "no IPs: header and aliases only",
		pod:  testPod("default", "p", aliases),
		want: boilerplate + "\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\tbar.remote\n",
	}, {
		name: "long pod name is truncated to 63 and loses trailing dashes",
		pod:  testPod("default", strings.Repeat("a", 61)+"--bbb"),
		ips:  []string{"10.42.0.10"},
		want: boilerplate + "10.42.0.10\t" + strings.Repeat("a", 61) + "\n",
	}, {
		name:  "invalid spec.hostname",
		pod:   testPod("default", "p", func(p *corev1.Pod) { p.Spec.Hostname = "Bad_Name" }),
		error: "spec.hostname",
	}, {
		name:  "invalid spec.subdomain",
		pod:   testPod("default", "p", func(p *corev1.Pod) { p.Spec.Subdomain = "a.b" }),
		error: "spec.subdomain",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HostsFile(tt.pod, tt.ips, "cluster.local")
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("error = %v, want one naming %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestHostNetworkHostsFile(t *testing.T) {
	node := "127.0.0.1 localhost\n192.168.1.10 node-1\n"
	tests := []struct {
		name  string
		node  string
		alias []corev1.HostAlias
		want  string
	}{{
		name: "node file copied under its own header",
		node: node,
		want: "# Kubernetes-managed hosts file (host network).\n" + node,
	}, {
		name:  "aliases appended",
		node:  node,
		alias: []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"a", "b"}}},
		want:  "# Kubernetes-managed hosts file (host network).\n" + node + "\n# Entries added by HostAliases.\n10.1.2.3\ta\tb\n",
	}, {
		name:  "no final newline is not repaired",
		node:  "127.0.0.1 localhost",
		alias: []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"a"}}},
		want:  "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n# Entries added by HostAliases.\n10.1.2.3\ta\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod("default", "p", func(p *corev1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.HostAliases = tt.alias
			})
			if got := HostNetworkHostsFile([]byte(tt.node), pod); string(got) != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestShouldMountHostsFile(t *testing.T) {
	c := &corev1.Container{Name: "app"}
	own := &corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "h", MountPath: "/etc/hosts"}}}
	pod := testPod("default", "p")
	hostNet := testPod("default", "p", func(p *corev1.Pod) { p.Spec.HostNetwork = true })
	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		c    *corev1.Container
		ips  []string
		want bool
	}{
		{"pod with IP", pod, c, []string{"10.0.0.1"}, true},
		{"pod without IP", pod, c, nil, false},
		{"hostNetwork without IP", hostNet, c, nil, true},
		{"container mounts its own", pod, own, []string{"10.0.0.1"}, false},
	} {
		if got := ShouldMountHostsFile(tt.pod, tt.c, tt.ips); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHostname(t *testing.T) {
	tests := []struct {
		name                 string
		pod                  *corev1.Pod
		hostname, domain     string
		kernel               string
		kernelErr, hostError bool
	}{{
		name:     "pod name",
		pod:      testPod("lab", "web-0"),
		hostname: "web-0", kernel: "web-0",
	}, {
		name:     "subdomain without setHostnameAsFQDN",
		pod:      testPod("lab", "web-0", func(p *corev1.Pod) { p.Spec.Subdomain = "web" }),
		hostname: "web-0", domain: "web.lab.svc.cluster.local", kernel: "web-0",
	}, {
		name: "setHostnameAsFQDN",
		pod: testPod("lab", "web-0", func(p *corev1.Pod) {
			p.Spec.Subdomain = "web"
			p.Spec.SetHostnameAsFQDN = ptr(true)
		}),
		hostname: "web-0", domain: "web.lab.svc.cluster.local", kernel: "web-0.web.lab.svc.cluster.local",
	}, {
		name:     "setHostnameAsFQDN without subdomain is the short name",
		pod:      testPod("lab", "web-0", func(p *corev1.Pod) { p.Spec.SetHostnameAsFQDN = ptr(true) }),
		hostname: "web-0", kernel: "web-0",
	}, {
		name: "FQDN over 64 bytes",
		pod: testPod("lab", strings.Repeat("x", 40), func(p *corev1.Pod) {
			p.Spec.Subdomain = "web"
			p.Spec.SetHostnameAsFQDN = ptr(true)
		}),
		hostname: strings.Repeat("x", 40), domain: "web.lab.svc.cluster.local", kernelErr: true,
	}, {
		name:     "hostNetwork keeps the node's name",
		pod:      testPod("lab", "web-0", func(p *corev1.Pod) { p.Spec.HostNetwork = true }),
		hostname: "web-0", kernel: "",
	}, {
		name:      "invalid hostnameOverride",
		pod:       testPod("lab", "web-0", func(p *corev1.Pod) { p.Spec.HostnameOverride = ptr("-x") }),
		hostError: true,
	}, {
		name:      "truncation leaves nothing",
		pod:       testPod("lab", strings.Repeat("-", 70)),
		hostError: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, d, err := Hostname(tt.pod, "cluster.local")
			if tt.hostError {
				if err == nil {
					t.Fatalf("Hostname: no error, got %q %q", h, d)
				}
				return
			}
			if err != nil || h != tt.hostname || d != tt.domain {
				t.Fatalf("Hostname = %q, %q, %v; want %q, %q", h, d, err, tt.hostname, tt.domain)
			}
			k, err := KernelHostname(tt.pod, "cluster.local")
			if tt.kernelErr {
				if err == nil {
					t.Fatalf("KernelHostname: no error, got %q", k)
				}
				return
			}
			if err != nil || k != tt.kernel {
				t.Fatalf("KernelHostname = %q, %v; want %q", k, err, tt.kernel)
			}
		})
	}
}
