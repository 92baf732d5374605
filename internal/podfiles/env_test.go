package podfiles

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type fakeSources struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
	err     error
}

func (f fakeSources) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if f.err != nil {
		return nil, f.err
	}
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f fakeSources) Secret(ns, name string) (*corev1.Secret, error) {
	if f.err != nil {
		return nil, f.err
	}
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, nil // the (nil, nil) spelling of "not found"
}

func labSources() fakeSources {
	return fakeSources{
		cms: map[string]*corev1.ConfigMap{
			"lab/cfg": {Data: map[string]string{"B": "from-cm", "a.b": "dot", "1X": "digit"}},
		},
		secrets: map[string]*corev1.Secret{
			"lab/sec": {Data: map[string][]byte{"TOKEN": []byte("t0p")}},
		},
	}
}

var labFacts = PodFacts{
	PodIPs:  []string{"10.42.0.5", "2001:cafe:42::5"},
	HostIPs: []string{"192.168.1.10", "fd00:1::10"},
}

var allocatable = corev1.ResourceList{
	corev1.ResourceCPU:              resource.MustParse("4"),
	corev1.ResourceMemory:           resource.MustParse("8Gi"),
	corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
}

func res(name, container, r, divisor string) corev1.EnvVar {
	sel := &corev1.ResourceFieldSelector{ContainerName: container, Resource: r}
	if divisor != "" {
		sel.Divisor = resource.MustParse(divisor)
	}
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: sel}}
}

func cmKey(name, cm, key string, optional bool) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Key: key, Optional: ptr(optional)}}}
}

func secretKey(name, s, key string, optional bool) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: s}, Key: key, Optional: ptr(optional)}}}
}

func labPod(mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := testPod("lab", "web-0", func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "web", "tier": "front"}
		p.Annotations = map[string]string{"example.com/team": "net", "note": "say \"hi\"\n"}
		p.Spec.NodeName = "node-1"
		p.Spec.ServiceAccountName = "web-sa"
	})
	for _, m := range mutate {
		m(p)
	}
	return p
}

func TestContainerEnv(t *testing.T) {
	services := []*corev1.Service{labServices()[0], labServices()[len(labServices())-1]} // default/kubernetes, lab/web
	full := &corev1.Container{
		Name: "app",
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{Prefix: "S_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr(true)}},
		},
		Env: []corev1.EnvVar{
			{Name: "B", Value: "override $(S_TOKEN)"},
			fieldEnv("POD_NAME", "metadata.name"),
			fieldEnv("POD_NAMESPACE", "metadata.namespace"),
			fieldEnv("POD_UID", "metadata.uid"),
			fieldEnv("APP", "metadata.labels['app']"),
			fieldEnv("TEAM", "metadata.annotations['example.com/team']"),
			fieldEnv("LABELS", "metadata.labels"),
			fieldEnv("ANNOTATIONS", "metadata.annotations"),
			fieldEnv("NODE", "spec.nodeName"),
			fieldEnv("HOST", "spec.host"),
			fieldEnv("SA", "spec.serviceAccountName"),
			fieldEnv("HOST_IP", "status.hostIP"),
			fieldEnv("HOST_IPS", "status.hostIPs"),
			fieldEnv("POD_IP", "status.podIP"),
			fieldEnv("POD_IPS", "status.podIPs"),
			{Name: "URL", Value: "http://[$(WEB_SERVICE_HOST)]:$(WEB_SERVICE_PORT)/$(POD_NAME)/$$(POD_NAME)/$(LATER)/$(POD_IP"},
			{Name: "LATER", Value: "x"},
			{Name: "NO_EXPAND_FROM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "B"}}},
			secretKey("SEC", "sec", "TOKEN", false),
			cmKey("MISSING_OPT", "nope", "k", true),
			cmKey("KEY_OPT", "cfg", "none", true),
			secretKey("SEC_OPT", "nope", "k", true),
			{Name: "EMPTY"},
			{Name: "WEB_SERVICE_PORT", Value: "8080"},
			res("CPU_LIMIT_M", "", "limits.cpu", "1m"),
			res("CPU_LIMIT", "", "limits.cpu", ""),
			res("CPU_REQUEST", "", "requests.cpu", ""),
			res("MEM_LIMIT_MI", "", "limits.memory", "1Mi"),
			res("MEM_REQUEST", "", "requests.memory", ""),
			res("EPHEMERAL_GI", "", "limits.ephemeral-storage", "1Gi"),
			res("EPHEMERAL_REQUEST", "", "requests.ephemeral-storage", ""),
		},
	}
	want := `1X=digit
B=override t0p
a.b=dot
S_TOKEN=t0p
POD_NAME=web-0
POD_NAMESPACE=lab
POD_UID=uid-1
APP=web
TEAM=net
LABELS=app="web"
tier="front"
ANNOTATIONS=example.com/team="net"
note="say \"hi\"\n"
NODE=node-1
HOST=node-1
SA=web-sa
HOST_IP=192.168.1.10
HOST_IPS=192.168.1.10,fd00:1::10
POD_IP=10.42.0.5
POD_IPS=10.42.0.5,2001:cafe:42::5
URL=http://[fd00:10:96::1a]:80/web-0/$(POD_NAME)/$(LATER)/$(POD_IP
LATER=x
NO_EXPAND_FROM=from-cm
SEC=t0p
EMPTY=
WEB_SERVICE_PORT=8080
CPU_LIMIT_M=500
CPU_LIMIT=1
CPU_REQUEST=1
MEM_LIMIT_MI=8192
MEM_REQUEST=67108864
EPHEMERAL_GI=100
EPHEMERAL_REQUEST=0
` + kubernetesEnv + strings.Replace(webEnv, "WEB_SERVICE_PORT=80\n", "", 1)

	got, err := ContainerEnv(labPod(), full, services, labSources(), labFacts, allocatable)
	if err != nil {
		t.Fatal(err)
	}
	if s := envText(got); s != want {
		t.Errorf("got:\n%s\nwant:\n%s", s, want)
	}
}

func TestContainerEnvCases(t *testing.T) {
	initC := corev1.Container{Name: "init"}
	sidecar := corev1.Container{Name: "side", Resources: corev1.ResourceRequirements{
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("0")}}}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		env   []corev1.EnvVar
		from  []corev1.EnvFromSource
		facts *PodFacts
		svcs  bool
		want  string
	}{{
		name:  "IPv6-primary node lists the IPv6 pod IP first, canonical, one per family",
		env:   []corev1.EnvVar{fieldEnv("POD_IP", "status.podIP"), fieldEnv("POD_IPS", "status.podIPs"), fieldEnv("HOST_IP", "status.hostIP")},
		facts: &PodFacts{PodIPs: []string{"10.42.0.5", "10.42.0.6", "2001:cafe:42:0::5"}, HostIPs: []string{"fd00:1::10", "192.168.1.10"}},
		want:  "POD_IP=2001:cafe:42::5\nPOD_IPS=2001:cafe:42::5,10.42.0.5\nHOST_IP=fd00:1::10\n",
	}, {
		name:  "no node IPs: IPv4 first",
		env:   []corev1.EnvVar{fieldEnv("POD_IPS", "status.podIPs")},
		facts: &PodFacts{PodIPs: []string{"2001:cafe:42::5", "10.42.0.5"}},
		want:  "POD_IPS=10.42.0.5,2001:cafe:42::5\n",
	}, {
		name:  "no pod IPs yet",
		env:   []corev1.EnvVar{fieldEnv("POD_IP", "status.podIP"), fieldEnv("POD_IPS", "status.podIPs")},
		facts: &PodFacts{HostIPs: []string{"192.168.1.10"}},
		want:  "POD_IP=\nPOD_IPS=\n",
	}, {
		name: "missing optional key leaves the envFrom value",
		from: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		env:  []corev1.EnvVar{cmKey("B", "cfg", "absent", true), cmKey("a.b", "missing", "k", true)},
		want: "1X=digit\nB=from-cm\na.b=dot\n",
	}, {
		name: "duplicate env names: first position, last value",
		env:  []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "$(A)"}, {Name: "A", Value: "$(A)2"}},
		want: "A=12\nB=1\n",
	}, {
		name: "pod-level limits replace allocatable for cpu and memory",
		pod: labPod(func(p *corev1.Pod) {
			p.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")}}
		}),
		env:  []corev1.EnvVar{res("CPU", "", "limits.cpu", ""), res("MEM", "", "limits.memory", "1Mi"), res("EPH", "", "limits.ephemeral-storage", "1Gi")},
		want: "CPU=2\nMEM=1024\nEPH=100\n",
	}, {
		name: "named containers: regular ones defaulted (zero counts as unset), init ones not",
		pod: labPod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{initC}
			p.Spec.Containers = []corev1.Container{{Name: "app"}, sidecar}
		}),
		env:  []corev1.EnvVar{res("SIDE", "side", "limits.memory", "1Gi"), res("INIT", "init", "limits.memory", ""), res("INIT_CPU", "init", "limits.cpu", "")},
		want: "SIDE=8\nINIT=0\nINIT_CPU=0\n",
	}, {
		name: "hugepages",
		pod: labPod(func(p *corev1.Pod) {
			p.Spec.Containers = []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{"hugepages-2Mi": resource.MustParse("4Mi")}}}}
		}),
		env:  []corev1.EnvVar{res("HP", "app", "limits.hugepages-2Mi", "2Mi"), res("HP_REQ", "app", "requests.hugepages-2Mi", "")},
		want: "HP=2\nHP_REQ=0\n",
	}, {
		name: "links disabled: only kubernetes service vars",
		pod:  labPod(func(p *corev1.Pod) { p.Spec.EnableServiceLinks = ptr(false) }),
		env:  []corev1.EnvVar{{Name: "K", Value: "$(KUBERNETES_SERVICE_HOST)|$(WEB_SERVICE_HOST)"}},
		svcs: true,
		want: "K=10.96.0.1|$(WEB_SERVICE_HOST)\n" + kubernetesEnv,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod
			if pod == nil {
				pod = labPod()
			}
			facts := labFacts
			if tt.facts != nil {
				facts = *tt.facts
			}
			var services []*corev1.Service
			if tt.svcs {
				services = labServices()
			}
			c := &corev1.Container{Name: "app", Env: tt.env, EnvFrom: tt.from}
			got, err := ContainerEnv(pod, c, services, labSources(), facts, allocatable)
			if err != nil {
				t.Fatal(err)
			}
			if s := envText(got); s != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", s, tt.want)
			}
		})
	}
}

func TestContainerEnvErrors(t *testing.T) {
	boom := errors.New("apiserver unreachable")
	tests := []struct {
		name  string
		env   []corev1.EnvVar
		from  []corev1.EnvFromSource
		src   Sources
		facts *PodFacts
		want  string
	}{{
		name: "missing configmap",
		env:  []corev1.EnvVar{cmKey("X", "c", "k", false)},
		want: `container "app": env "X": configmap "c" not found`,
	}, {
		name: "missing secret",
		env:  []corev1.EnvVar{secretKey("X", "s", "k", false)},
		want: `container "app": env "X": secret "s" not found`,
	}, {
		name: "missing key",
		env:  []corev1.EnvVar{cmKey("X", "cfg", "nope", false)},
		want: `container "app": env "X": key "nope" not found in configmap "cfg"`,
	}, {
		name: "missing secret key",
		env:  []corev1.EnvVar{secretKey("X", "sec", "nope", false)},
		want: `container "app": env "X": key "nope" not found in secret "sec"`,
	}, {
		name: "missing envFrom configmap",
		from: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}},
		want: `container "app": envFrom[0]: configmap "c" not found`,
	}, {
		name: "lookup failure is not optional",
		env:  []corev1.EnvVar{cmKey("X", "c", "k", true)},
		src:  fakeSources{err: boom},
		want: `container "app": env "X": get configmap "c": apiserver unreachable`,
	}, {
		name: "no sources",
		from: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}},
		src:  noSources,
		want: `container "app": envFrom[0]: secret "s": no sources`,
	}, {
		name: "unsupported fieldPath",
		env:  []corev1.EnvVar{fieldEnv("PHASE", "status.phase")},
		want: `container "app": env "PHASE": fieldRef: unsupported fieldPath "status.phase"`,
	}, {
		name: "subscript on a plain field",
		env:  []corev1.EnvVar{fieldEnv("N", "metadata.name['x']")},
		want: `env "N": fieldRef: field "metadata.name['x']" does not support a subscript`,
	}, {
		name: "bad label key",
		env:  []corev1.EnvVar{fieldEnv("L", "metadata.labels['-bad-']")},
		want: `env "L": fieldRef: invalid key subscript`,
	}, {
		name: "wrong apiVersion",
		env:  []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v2", FieldPath: "metadata.name"}}}},
		want: `env "V": fieldRef: unsupported apiVersion "v2"`,
	}, {
		name:  "hostIP without node IPs",
		env:   []corev1.EnvVar{fieldEnv("H", "status.hostIP")},
		facts: &PodFacts{},
		want:  `env "H": fieldRef status.hostIP: the node has no IP address`,
	}, {
		name: "unknown container in resourceFieldRef",
		env:  []corev1.EnvVar{res("R", "ghost", "limits.cpu", "")},
		want: `env "R": resourceFieldRef: container "ghost" not found`,
	}, {
		name: "unsupported resource",
		env:  []corev1.EnvVar{res("R", "", "limits.gpu", "")},
		want: `env "R": resourceFieldRef: unsupported container resource "limits.gpu"`,
	}, {
		name: "fileKeyRef",
		env:  []corev1.EnvVar{{Name: "F", ValueFrom: &corev1.EnvVarSource{FileKeyRef: &corev1.FileKeySelector{VolumeName: "v", Path: "p", Key: "k"}}}},
		want: `env "F": valueFrom.fileKeyRef is not supported`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			switch src {
			case nil:
				src = labSources()
			case noSources:
				src = nil
			}
			facts := labFacts
			if tt.facts != nil {
				facts = *tt.facts
			}
			c := &corev1.Container{Name: "app", Env: tt.env, EnvFrom: tt.from}
			_, err := ContainerEnv(labPod(), c, nil, src, facts, allocatable)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Lookup errors stay inspectable.
	c := &corev1.Container{Name: "app", Env: []corev1.EnvVar{cmKey("X", "c", "k", false)}}
	if _, err := ContainerEnv(labPod(), c, nil, fakeSources{err: boom}, labFacts, nil); !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the lookup error", err)
	}
}

// noSources marks a case that passes a nil Sources.
var noSources Sources = &fakeSources{}
