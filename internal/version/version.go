// Package version reports weft's own version and the Kubernetes release compiled into it.
package version

import "fmt"

// These are set by the Makefile with -ldflags -X; the defaults say plainly that they were not.
var (
	// Weft is weft's version, from `git describe`.
	Weft = "v0.0.0-dev"
	// Kubernetes is the k8s.io/kubernetes release compiled in; it is also stamped into
	// k8s.io/component-base/version so the API server reports it.
	Kubernetes = "unknown"
)

// String is what `weft version` prints.
func String() string {
	return fmt.Sprintf("weft %s\nkubernetes %s", Weft, Kubernetes)
}
