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

// ClusterNetworkPolicyCRD is clusternetworkpolicy-crd.yaml, the CustomResourceDefinition of
// policy.networking.k8s.io's ClusterNetworkPolicy as sigs.k8s.io/network-policy-api publishes it.
//
//go:embed clusternetworkpolicy-crd.yaml
var ClusterNetworkPolicyCRD []byte

// CRDs are every CustomResourceDefinition the lab installs, by file name.
var CRDs = map[string][]byte{"egressroute-crd.yaml": EgressRouteCRD, "clusternetworkpolicy-crd.yaml": ClusterNetworkPolicyCRD}
