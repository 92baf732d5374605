package noderuntime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestVolumeBinds(t *testing.T) {
	dir := t.TempDir()
	w := &podWorker{dir: dir, pod: &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
	}}}}
	vols := filepath.Join(dir, "volumes")
	for _, tc := range []struct {
		name   string
		mounts []corev1.VolumeMount
		env    []string
		want   string // source>target(ro) ...
		err    string
	}{
		{"parents first, configMap read-only", []corev1.VolumeMount{
			{Name: "config", MountPath: "/etc/app/conf"}, {Name: "cache", MountPath: "/etc/app"}, {Name: "host", MountPath: "/logs", ReadOnly: true}},
			nil, "/var/log>/logs(ro) " + vols + "/cache>/etc/app " + vols + "/config>/etc/app/conf(ro)", ""},
		{"subPath is made", []corev1.VolumeMount{{Name: "cache", MountPath: "/data", SubPath: "a/b"}}, nil, vols + "/cache/a/b>/data", ""},
		{"subPathExpr from env", []corev1.VolumeMount{{Name: "cache", MountPath: "/data", SubPathExpr: "$(POD)"}}, []string{"POD=web-1"}, vols + "/cache/web-1>/data", ""},
		{"subPath leaves the volume", []corev1.VolumeMount{{Name: "cache", MountPath: "/data", SubPath: "../x"}}, nil, "", "without '..'"},
		{"no such volume", []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}, nil, "", `volumeMounts "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			binds, err := w.volumeBinds(&corev1.Container{VolumeMounts: tc.mounts}, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range binds {
				s := b.Source + ">" + b.Target
				if b.ReadOnly {
					s += "(ro)"
				}
				got = append(got, s)
				if strings.HasPrefix(b.Source, vols+"/cache/") {
					if _, err := os.Stat(b.Source); err != nil {
						t.Errorf("subPath directory not made: %v", err)
					}
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("binds\n %s\nwant\n %s", strings.Join(got, " "), tc.want)
			}
		})
	}
}

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	typ := func(t corev1.HostPathType) *corev1.HostPathType { return &t }
	for _, tc := range []struct {
		name string
		hp   corev1.HostPathVolumeSource
		err  string
	}{
		{"unset type, missing path", corev1.HostPathVolumeSource{Path: filepath.Join(dir, "missing")}, ""},
		{"DirectoryOrCreate makes it", corev1.HostPathVolumeSource{Path: filepath.Join(dir, "made/dir"), Type: typ(corev1.HostPathDirectoryOrCreate)}, ""},
		{"FileOrCreate makes it", corev1.HostPathVolumeSource{Path: filepath.Join(dir, "made-file"), Type: typ(corev1.HostPathFileOrCreate)}, ""},
		{"Directory that is a file", corev1.HostPathVolumeSource{Path: file, Type: typ(corev1.HostPathDirectory)}, "not of type Directory"},
		{"File", corev1.HostPathVolumeSource{Path: file, Type: typ(corev1.HostPathFile)}, ""},
		{"File that is missing", corev1.HostPathVolumeSource{Path: filepath.Join(dir, "missing"), Type: typ(corev1.HostPathFile)}, "no such file"},
		{"Socket that is a file", corev1.HostPathVolumeSource{Path: file, Type: typ(corev1.HostPathSocket)}, "not of type Socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkHostPath(&tc.hp)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if tc.err == "" && tc.hp.Type != nil && strings.HasSuffix(string(*tc.hp.Type), "OrCreate") {
				if _, err := os.Stat(tc.hp.Path); err != nil {
					t.Errorf("%s was not created: %v", tc.hp.Path, err)
				}
			}
		})
	}
}
