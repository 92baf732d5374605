package podfiles

import (
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// VolumeFile is one file of a configMap, secret, downwardAPI or projected volume.
type VolumeFile struct {
	Path string // relative to the volume's root
	Data []byte
	Mode os.FileMode
}

// DefaultVolumeMode is the mode the API server gives volume files when defaultMode is not set.
const DefaultVolumeMode os.FileMode = 0o644

// FileMode turns an API mode (defaultMode, items[].mode) into a file mode, or def when unset.
func FileMode(mode *int32, def os.FileMode) os.FileMode {
	if mode == nil {
		return def
	}
	return os.FileMode(*mode) & 0o777
}

// KeyFiles lays out the keys of a ConfigMap or Secret as the kubelet does: every key as a file
// named after it, or only the items, each at its path with its own mode. A key an item names
// must exist unless the source is optional. what names the source in errors, e.g.
// `configMap "settings"`.
func KeyFiles(data map[string][]byte, items []corev1.KeyToPath, mode os.FileMode, optional bool, what string) ([]VolumeFile, error) {
	var files []VolumeFile
	if len(items) == 0 {
		keys := slices.Sorted(maps.Keys(data))
		for _, k := range keys {
			files = append(files, VolumeFile{Path: k, Data: data[k], Mode: mode})
		}
		return files, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s has no key %q (items[].key): add the key or mark the volume optional", what, it.Key)
		}
		if err := checkVolumePath(it.Path); err != nil {
			return nil, fmt.Errorf("%s, key %q: items[].path %w", what, it.Key, err)
		}
		files = append(files, VolumeFile{Path: it.Path, Data: v, Mode: FileMode(it.Mode, mode)})
	}
	return files, nil
}

// ConfigMapData merges a ConfigMap's text and binary data.
func ConfigMapData(cm *corev1.ConfigMap) map[string][]byte {
	out := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	return out
}

// DownwardAPIFiles renders a downwardAPI volume's items: pod fields and container resources.
func DownwardAPIFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode os.FileMode, facts PodFacts, allocatable corev1.ResourceList) ([]VolumeFile, error) {
	var files []VolumeFile
	for _, it := range items {
		if err := checkVolumePath(it.Path); err != nil {
			return nil, fmt.Errorf("downwardAPI items[].path %w", err)
		}
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = fieldRefValue(pod, it.FieldRef, facts)
		case it.ResourceFieldRef != nil:
			if it.ResourceFieldRef.ContainerName == "" {
				return nil, fmt.Errorf("downwardAPI item %q: resourceFieldRef needs containerName in a volume", it.Path)
			}
			v, err = resourceFieldRefValue(pod, &corev1.Container{}, it.ResourceFieldRef, allocatable)
		default:
			return nil, fmt.Errorf("downwardAPI item %q: give fieldRef or resourceFieldRef", it.Path)
		}
		if err != nil {
			return nil, fmt.Errorf("downwardAPI item %q: %w", it.Path, err)
		}
		files = append(files, VolumeFile{Path: it.Path, Data: []byte(v), Mode: FileMode(it.Mode, mode)})
	}
	return files, nil
}

// checkVolumePath refuses paths that would leave the volume, as API validation does.
func checkVolumePath(p string) error {
	if p == "" || path.IsAbs(p) {
		return fmt.Errorf("%q must be a relative path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("%q must not contain '..'", p)
		}
	}
	return nil
}

// ExpandVars resolves $(NAME) in s from env, and "$$" to "$", as the kubelet does for subPathExpr
// and for a container's command and args.
func ExpandVars(s string, env map[string]string) string {
	return expand(s, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
}
