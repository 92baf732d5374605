package deploy

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemavalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// loadCRD decodes the embedded CRD into the API server's internal form, as the API server
// does on create, and fails on anything the API server would refuse.
func loadCRD(t *testing.T) *apiextensions.CustomResourceDefinition {
	t.Helper()
	var v1 apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(EgressRouteCRD, &v1); err != nil {
		t.Fatalf("egressroute-crd.yaml: %v", err)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(&v1)
	var crd apiextensions.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &crd, nil); err != nil {
		t.Fatal(err)
	}
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &crd); len(errs) > 0 {
		t.Fatalf("the API server would refuse the CRD:\n%v", errs.ToAggregate())
	}
	return &crd
}

func TestCRDIsValid(t *testing.T) {
	crd := loadCRD(t)
	if crd.Spec.Scope != apiextensions.ClusterScoped || crd.Spec.Names.ShortNames[0] != "er" {
		t.Errorf("want a cluster-scoped CRD with short name er, got %s %v", crd.Spec.Scope, crd.Spec.Names.ShortNames)
	}
}

// admit runs what the API server runs on create: defaulting, the OpenAPI schema, list types
// and the CEL rules.
func admit(t *testing.T, crd *apiextensions.CustomResourceDefinition, spec map[string]any) field.ErrorList {
	t.Helper()
	props := crd.Spec.Validation.OpenAPIV3Schema
	if props == nil {
		props = crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	}
	s, err := structuralschema.NewStructural(props)
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{
		"apiVersion": "weft.dev/v1alpha1", "kind": "EgressRoute",
		"metadata": map[string]any{"name": "test"}, "spec": spec,
	}
	defaulting.Default(obj, s)
	validator, _, err := schemavalidation.NewSchemaValidator(props)
	if err != nil {
		t.Fatal(err)
	}
	errs := schemavalidation.ValidateCustomResource(nil, obj, validator)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, s, obj)...)
	celErrs, _ := cel.NewValidator(s, true, celconfig.PerCallLimit).Validate(context.Background(), nil, s, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

func TestCRDRejectsWhatTheAgentCannotRoute(t *testing.T) {
	crd := loadCRD(t)
	for _, tc := range []struct {
		name string
		spec map[string]any
		want string // "" accepts
	}{
		{"IPv4 via", map[string]any{"destinations": []any{"192.168.3.0/24"}, "via": "192.168.1.1"}, ""},
		{"dual-stack out of an interface", map[string]any{"destinations": []any{"192.168.3.0/24", "2001:db8:3::/64"}, "interface": "eth1"}, ""},
		{"link-local IPv6 router on an interface", map[string]any{"destinations": []any{"2001:db8:3::/64"}, "via": "fe80::1", "interface": "eth1", "masquerade": false}, ""},
		{"selectors", map[string]any{"destinations": []any{"0.0.0.0/0"}, "via": "192.168.1.1",
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "db"}},
			"podSelector":       map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "Exists"}}}}, ""},
		{"no destinations", map[string]any{"destinations": []any{}, "via": "192.168.1.1"}, "spec.destinations"},
		{"not a CIDR", map[string]any{"destinations": []any{"192.168.3.0"}, "via": "192.168.1.1"}, "destinations must be networks such as 192.168.3.0/24"},
		{"host bits", map[string]any{"destinations": []any{"192.168.3.7/24"}, "via": "192.168.1.1"}, "no bits set past the prefix length"},
		{"duplicate destination", map[string]any{"destinations": []any{"10.9.0.0/16", "10.9.0.0/16"}, "via": "192.168.1.1"}, "Duplicate value"},
		{"neither via nor interface", map[string]any{"destinations": []any{"192.168.3.0/24"}}, "give via"},
		{"via not an address", map[string]any{"destinations": []any{"192.168.3.0/24"}, "via": "router1"}, "via must be an IP address"},
		{"loopback via", map[string]any{"destinations": []any{"192.168.3.0/24"}, "via": "127.0.0.1"}, "not 0.0.0.0, :: or a loopback"},
		{"via of the other family", map[string]any{"destinations": []any{"192.168.3.0/24", "2001:db8:3::/64"}, "via": "192.168.1.1"}, "one IP family"},
		{"link-local via alone", map[string]any{"destinations": []any{"2001:db8:3::/64"}, "via": "fe80::1"}, "give interface too"},
		{"interface name too long", map[string]any{"destinations": []any{"192.168.3.0/24"}, "interface": "a-very-long-interface"}, "spec.interface"},
		{"interface with a slash", map[string]any{"destinations": []any{"192.168.3.0/24"}, "interface": "eth0/1"}, "interface must be a node interface name"},
		{"In without values", map[string]any{"destinations": []any{"192.168.3.0/24"}, "via": "192.168.1.1",
			"podSelector": map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "In"}}}}, "need values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := admit(t, crd, tc.spec)
			got := errs.ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("refused: %v", got)
			case tc.want != "" && got == nil:
				t.Errorf("accepted; want an error naming %q", tc.want)
			case tc.want != "" && !strings.Contains(got.Error(), tc.want):
				t.Errorf("error %q does not say %q", got, tc.want)
			}
		})
	}
}

func TestCRDDefaultsMasquerade(t *testing.T) {
	crd := loadCRD(t)
	spec := map[string]any{"destinations": []any{"192.168.3.0/24"}, "via": "192.168.1.1"}
	if errs := admit(t, crd, spec); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	if spec["masquerade"] != true {
		t.Errorf("masquerade defaulted to %v, want true", spec["masquerade"])
	}
}
