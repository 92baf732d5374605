// Package deploy holds weft's manifests for real clusters. The EgressRoute CRD is embedded so
// that the lab installs the very file a real cluster applies.
package deploy

import _ "embed"

// EgressRouteCRD is egressroute-crd.yaml, the CustomResourceDefinition of weft.dev's EgressRoute.
//
//go:embed egressroute-crd.yaml
var EgressRouteCRD []byte
