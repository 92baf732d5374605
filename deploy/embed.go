// Package deploy holds weft's manifests for real clusters. They are embedded so that
// `weft install` and the lab apply the very files a user can apply by hand.
package deploy

import _ "embed"

// EgressRouteCRD is egressroute-crd.yaml, the CustomResourceDefinition of weft.dev's EgressRoute.
//
//go:embed egressroute-crd.yaml
var EgressRouteCRD []byte

// Manifest is weft.yaml: the agent's ServiceAccount, RBAC, ConfigMap and DaemonSet.
//
//go:embed weft.yaml
var Manifest []byte
