package podfiles

import (
	"os"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func int32p(v int32) *int32 { return &v }

func TestKeyFiles(t *testing.T) {
	data := map[string][]byte{"b": []byte("2"), "a": []byte("1")}
	for _, tc := range []struct {
		name     string
		items    []corev1.KeyToPath
		optional bool
		want     []VolumeFile
		err      string
	}{
		{"every key, sorted", nil, false, []VolumeFile{{"a", []byte("1"), 0o644}, {"b", []byte("2"), 0o644}}, ""},
		{"items with path and mode", []corev1.KeyToPath{{Key: "b", Path: "dir/b.txt", Mode: int32p(0o400)}}, false, []VolumeFile{{"dir/b.txt", []byte("2"), 0o400}}, ""},
		{"missing key", []corev1.KeyToPath{{Key: "c", Path: "c"}}, false, nil, `configMap "x" has no key "c"`},
		{"missing key, optional", []corev1.KeyToPath{{Key: "c", Path: "c"}}, true, nil, ""},
		{"path leaves the volume", []corev1.KeyToPath{{Key: "a", Path: "../a"}}, false, nil, "must not contain '..'"},
		{"absolute path", []corev1.KeyToPath{{Key: "a", Path: "/a"}}, false, nil, "must be a relative path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := KeyFiles(data, tc.items, 0o644, tc.optional, `configMap "x"`)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFileMode(t *testing.T) {
	for _, tc := range []struct {
		mode *int32
		want os.FileMode
	}{{nil, 0o644}, {int32p(0o400), 0o400}, {int32p(0o7777), 0o777}} {
		if got := FileMode(tc.mode, DefaultVolumeMode); got != tc.want {
			t.Errorf("FileMode(%v) = %o, want %o", tc.mode, got, tc.want)
		}
	}
}

func TestDownwardAPIFiles(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "web", "tier": "a"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
	}
	for _, tc := range []struct {
		name  string
		items []corev1.DownwardAPIVolumeFile
		want  string
		err   string
	}{
		{"namespace", []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}, "ns", ""},
		{"labels", []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}, "app=\"web\"\ntier=\"a\"", ""},
		{"pod IP", []corev1.DownwardAPIVolumeFile{{Path: "ip", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}, "10.42.0.5", ""},
		{"resource without container", []corev1.DownwardAPIVolumeFile{{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}}, "", "needs containerName"},
		{"neither", []corev1.DownwardAPIVolumeFile{{Path: "x"}}, "", "give fieldRef or resourceFieldRef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := DownwardAPIFiles(pod, tc.items, 0o644, PodFacts{PodIPs: []string{"10.42.0.5"}, HostIPs: []string{"192.168.1.11"}}, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 || string(files[0].Data) != tc.want {
				t.Errorf("got %+v, want one file with %q", files, tc.want)
			}
		})
	}
}

func TestExpandVars(t *testing.T) {
	if got := ExpandVars("logs/$(POD_NAME)/$(MISSING)", map[string]string{"POD_NAME": "p"}); got != "logs/p/$(MISSING)" {
		t.Errorf("got %q", got)
	}
}
