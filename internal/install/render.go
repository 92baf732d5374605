package install

import (
	"bytes"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/weftnet/weft/deploy"
)

// The names in deploy/weft.yaml that install and uninstall work with.
const (
	Namespace     = "kube-system"
	DaemonSetName = "weft-agent"
	ConfigMapName = "weft-config"
	AgentLabel    = "app.kubernetes.io/name"
	PartOfLabel   = "app.kubernetes.io/part-of"
)

// Render is deploy/ with the options filled in: the EgressRoute CRD first (the agent watches
// EgressRoutes), then weft.yaml's objects in order. The options must have passed Validate.
func Render(o Options) ([]*unstructured.Unstructured, error) {
	crd, err := decode(deploy.EgressRouteCRD)
	if err != nil {
		return nil, fmt.Errorf("deploy/egressroute-crd.yaml: %w", err)
	}
	objs := []*unstructured.Unstructured{crd}
	for _, doc := range splitDocuments(deploy.Manifest) {
		u, err := decode(doc)
		if err != nil {
			return nil, fmt.Errorf("deploy/weft.yaml: %w", err)
		}
		if u == nil {
			continue // the leading comment
		}
		switch u.GetKind() {
		case "ConfigMap":
			err = edit(u, &corev1.ConfigMap{}, func(cm *corev1.ConfigMap) error { return configure(cm, o) })
		case "DaemonSet":
			err = edit(u, &appsv1.DaemonSet{}, func(ds *appsv1.DaemonSet) error { return setImageAndArgs(ds, o) })
		}
		if err != nil {
			return nil, fmt.Errorf("deploy/weft.yaml %s: %w", u.GetKind(), err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// YAML is Render as one multi-document YAML stream, for `weft install --render`.
func YAML(objs []*unstructured.Unstructured) ([]byte, error) {
	var b bytes.Buffer
	for _, u := range objs {
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}

func configure(cm *corev1.ConfigMap, o Options) error {
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data["cluster-cidr"] = o.ClusterCIDR
	cm.Data["service-cidr"] = o.ServiceCIDR
	cm.Data["backend"] = o.Backend
	cm.Data["proxy"] = o.Proxy
	cm.Data["dns"] = o.DNS
	cm.Data["policy"] = o.Policy
	cm.Data["cluster-domain"] = o.ClusterDomain
	if o.APIServer != "" {
		host, port, err := apiServerHostPort(o.APIServer)
		if err != nil {
			return err
		}
		cm.Data["kubernetes-service-host"], cm.Data["kubernetes-service-port"] = host, port
	}
	return nil
}

func setImageAndArgs(ds *appsv1.DaemonSet, o Options) error {
	spec := &ds.Spec.Template.Spec
	for i := range spec.InitContainers {
		spec.InitContainers[i].Image = o.Image
	}
	for i := range spec.Containers {
		spec.Containers[i].Image = o.Image
	}
	agent := agentContainer(spec)
	if agent == nil {
		return fmt.Errorf("no container named agent")
	}
	agent.Command = append(agent.Command, o.AgentArgs...)
	return nil
}

func agentContainer(spec *corev1.PodSpec) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == "agent" {
			return &spec.Containers[i]
		}
	}
	return nil
}

// edit converts u to its typed form, changes it, and converts it back, so that fields are set
// by name with the compiler's help and the rest of the object stays as the file has it.
func edit[T any](u *unstructured.Unstructured, typed *T, change func(*T) error) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, typed, true); err != nil {
		return err
	}
	if err := change(typed); err != nil {
		return err
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return err
	}
	// The typed form adds empty status and creationTimestamp fields that apply should not send.
	delete(obj, "status")
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(obj, "spec", "template", "metadata", "creationTimestamp")
	u.Object = obj
	return nil
}

func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range strings.Split(string(data), "\n---\n") {
		docs = append(docs, []byte(d))
	}
	return docs
}

// decode reads one YAML document; a document of comments only is nil.
func decode(doc []byte) (*unstructured.Unstructured, error) {
	var obj map[string]any
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return nil, err
	}
	if len(obj) == 0 {
		return nil, nil
	}
	u := &unstructured.Unstructured{Object: obj}
	if u.GetKind() == "" || u.GetAPIVersion() == "" {
		return nil, fmt.Errorf("a document without kind or apiVersion")
	}
	return u, nil
}
