package install

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func rendered(t *testing.T, o Options) (*corev1.ConfigMap, *appsv1.DaemonSet, []*unstructured.Unstructured) {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	objs, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	var cm *corev1.ConfigMap
	var ds *appsv1.DaemonSet
	for _, u := range objs {
		switch u.GetKind() {
		case "ConfigMap":
			cm = &corev1.ConfigMap{}
			if err := edit(u, cm, func(*corev1.ConfigMap) error { return nil }); err != nil {
				t.Fatal(err)
			}
		case "DaemonSet":
			ds = &appsv1.DaemonSet{}
			if err := edit(u, ds, func(*appsv1.DaemonSet) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cm == nil || ds == nil {
		t.Fatal("no ConfigMap or DaemonSet rendered")
	}
	return cm, ds, objs
}

// TestRenderCarriesEveryOption: each option lands where the agent reads it.
func TestRenderCarriesEveryOption(t *testing.T) {
	o := Options{ClusterCIDR: "10.60.0.0/16,2001:db8:60::/56", ServiceCIDR: "10.61.0.0/16,2001:db8:61::/112",
		Backend: "host-gw", Proxy: "none", DNS: "none", Policy: "none", ClusterDomain: "example.internal",
		Image: "registry.example/weft:v9", APIServer: "https://192.0.2.10:6444",
		AgentArgs: []string{"--mtu=1400", "--resync=10s"}}
	cm, ds, objs := rendered(t, o)
	want := map[string]string{"cluster-cidr": o.ClusterCIDR, "service-cidr": o.ServiceCIDR, "backend": "host-gw", "proxy": "none",
		"dns": "none", "policy": "none", "cluster-domain": "example.internal", "kubernetes-service-host": "192.0.2.10", "kubernetes-service-port": "6444"}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], v)
		}
	}
	spec := ds.Spec.Template.Spec
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.Image != o.Image {
			t.Errorf("container %s image %q, want %q", c.Name, c.Image, o.Image)
		}
	}
	agent := agentContainer(&spec)
	for _, a := range o.AgentArgs {
		if !slices.Contains(agent.Command, a) {
			t.Errorf("agent command %v lacks %s", agent.Command, a)
		}
	}
	// Every ConfigMap key the DaemonSet refers to exists, and every flag it feeds is set.
	for _, e := range agent.Env {
		if ref := e.ValueFrom; ref != nil && ref.ConfigMapKeyRef != nil {
			if _, ok := cm.Data[ref.ConfigMapKeyRef.Key]; !ok {
				t.Errorf("env %s refers to ConfigMap key %s, which is not rendered", e.Name, ref.ConfigMapKeyRef.Key)
			}
		}
	}
	if objs[0].GetKind() != "CustomResourceDefinition" {
		t.Errorf("the CRD must come first, got %s", objs[0].GetKind())
	}
}

func TestRenderDefaultsMatchTheFile(t *testing.T) {
	cm, ds, _ := rendered(t, Defaults())
	if cm.Data["cluster-cidr"] != "10.42.0.0/16" || cm.Data["service-cidr"] != "10.43.0.0/16" || cm.Data["backend"] != "vxlan" {
		t.Errorf("defaults differ from K3s's: %v", cm.Data)
	}
	if _, ok := cm.Data["kubernetes-service-host"]; ok {
		t.Error("without --api-server the ConfigMap must not name an API server")
	}
	if img := ds.Spec.Template.Spec.Containers[0].Image; img != DefaultImage {
		t.Errorf("image %s", img)
	}
	y, err := YAML([]*unstructured.Unstructured{{Object: map[string]any{"kind": "ConfigMap", "apiVersion": "v1"}}})
	if err != nil || !strings.HasPrefix(string(y), "---\n") {
		t.Errorf("YAML: %q %v", y, err)
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"bad cluster range", func(o *Options) { o.ClusterCIDR = "10.42.0.0/33" }, "--cluster-cidr"},
		{"two IPv4 ranges", func(o *Options) { o.ServiceCIDR = "10.43.0.0/16,10.44.0.0/16" }, "--service-cidr"},
		{"families differ", func(o *Options) { o.ServiceCIDR = "2001:db8::/112" }, "different address families"},
		{"overlap", func(o *Options) { o.ServiceCIDR = "10.42.128.0/20" }, "overlaps --service-cidr"},
		{"backend", func(o *Options) { o.Backend = "flannel" }, "--backend"},
		{"proxy", func(o *Options) { o.Proxy = "ipvs" }, "--proxy"},
		{"dns", func(o *Options) { o.DNS = "coredns" }, "--dns"},
		{"policy", func(o *Options) { o.Policy = "calico" }, "--policy"},
		{"domain", func(o *Options) { o.ClusterDomain = "Cluster Local" }, "--cluster-domain"},
		{"image", func(o *Options) { o.Image = "" }, "--image"},
		{"api server scheme", func(o *Options) { o.APIServer = "http://192.0.2.1:6443" }, "--api-server"},
		{"api server loopback", func(o *Options) { o.APIServer = "https://127.0.0.1:6443" }, "loopback"},
		{"api server port", func(o *Options) { o.APIServer = "https://192.0.2.1:99999" }, "--api-server"},
		{"agent arg without dashes", func(o *Options) { o.AgentArgs = []string{"mtu=1400"} }, "--agent-arg"},
		{"agent arg set by the ConfigMap", func(o *Options) { o.AgentArgs = []string{"--backend=none"} }, "use weft install --backend"},
		{"timeout", func(o *Options) { o.Timeout = -1 }, "--timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Defaults()
			tc.change(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error naming %q, got %v", tc.want, err)
			}
		})
	}
}

func TestCleanupDaemonSetRunsTheAgentsUninstall(t *testing.T) {
	_, ds, _ := rendered(t, Defaults())
	c, err := cleanupDaemonSet(ds)
	if err != nil {
		t.Fatal(err)
	}
	spec := c.Spec.Template.Spec
	if len(spec.InitContainers) != 1 || !slices.Contains(spec.InitContainers[0].Command, "--uninstall") {
		t.Fatalf("init containers %+v", spec.InitContainers)
	}
	if !spec.HostNetwork || spec.ServiceAccountName != "weft-agent" || len(spec.Volumes) != len(ds.Spec.Template.Spec.Volumes) {
		t.Error("the cleanup pods need the agents' network, rights and mounts")
	}
	if c.Spec.Selector.MatchLabels[AgentLabel] != CleanupDaemonSetName || c.Spec.Template.Labels[AgentLabel] != CleanupDaemonSetName {
		t.Error("the cleanup DaemonSet must not select the agents' pods")
	}
	if slices.Contains(agentContainer(&ds.Spec.Template.Spec).Command, "--uninstall") {
		t.Error("building the cleanup DaemonSet changed the agents' template")
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("10.42.0.0/16", "10.43.0.0/16", "https://192.0.2.1:6443", "--mtu=1400")
	f.Add("10.42.0.0/16,2001:db8:42::/56", "10.43.0.0/16,2001:db8:43::/112", "https://[2001:db8::1]:6443", "")
	f.Add(",", "::/0", "https://", "--")
	f.Fuzz(func(t *testing.T, cluster, service, server, arg string) {
		o := Defaults()
		o.ClusterCIDR, o.ServiceCIDR, o.APIServer, o.AgentArgs = cluster, service, server, []string{arg}
		if o.Validate() != nil {
			return
		}
		if _, err := Render(o); err != nil {
			t.Errorf("valid options fail to render: %v", err)
		}
	})
}
