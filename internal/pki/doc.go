// Package pki issues the certificates and keys for the lab's embedded Kubernetes
// control plane: one in-memory CA, leaf certificates for servers and clients,
// the service-account signing key, and kubeconfigs that embed them.
//
// Every key is ECDSA P-256: it is small, fast to generate at lab start-up, and
// accepted by etcd, kube-apiserver and kubectl alike.
package pki
