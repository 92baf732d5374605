package shim

import (
	"encoding/json"
	"fmt"
	"os"
)

// RootSpec is how the node runtime describes a container's root file system to the shim. The
// node's own view of the file system is the base; Binds put the image's files and the pod's
// volumes on top. The shim assembles it in the container's mount namespace and pivots into it.
type RootSpec struct {
	// Dir is an empty directory under the pod's directory. The shim mounts a tmpfs there, in the
	// container's mount namespace only, that holds the new root and its writable layers: the
	// container's writes go there and vanish with the container, never to the node or the host.
	Dir string `json:"dir"`
	// PodFiles is the directory with the pod's hosts, hostname and resolv.conf, bound into /etc.
	PodFiles string `json:"podFiles"`
	// Hide are node directories that the container sees empty: the node runtime's own state.
	Hide []string `json:"hide,omitempty"`
	// Binds are bound in order after the node's view: the image's files, then the volumes.
	Binds []Bind `json:"binds,omitempty"`
	// WorkDir is the container's working directory, created when missing as Docker does.
	WorkDir string `json:"workDir,omitempty"`
}

// Bind puts a file or directory of the node at a path in the container.
type Bind struct {
	Source   string `json:"source"` // path in the node's view
	Target   string `json:"target"` // absolute path in the container
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// WriteRootSpec stores a spec for `weft-shim enter --root-spec`.
func WriteRootSpec(path string, s RootSpec) error {
	return WriteRecord(path, s)
}

// ReadRootSpec loads a spec written by WriteRootSpec and checks it.
func ReadRootSpec(path string) (RootSpec, error) {
	var s RootSpec
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("--root-spec: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("--root-spec %s: %w", path, err)
	}
	if s.Dir == "" || s.Dir[0] != '/' {
		return s, fmt.Errorf("--root-spec %s: dir %q must be an absolute path", path, s.Dir)
	}
	for _, b := range s.Binds {
		if b.Source == "" || b.Target == "" || b.Target[0] != '/' {
			return s, fmt.Errorf("--root-spec %s: bind %q -> %q needs a source and an absolute target", path, b.Source, b.Target)
		}
	}
	return s, nil
}
