// Package podfiles renders the files and environment a kubelet hands to a
// pod's containers: /etc/hosts, /etc/hostname, /etc/resolv.conf and the
// container environment (service links, envFrom, env, downward API).
//
// Everything here is a pure function of the pod, the cluster objects it
// references and a few facts only the node runtime knows. The formats and the
// precedence rules follow the upstream kubelet (and, for resolv.conf and
// /etc/hostname, the CRI runtime that writes them) so that a workload cannot
// tell weft's node runtime from a kubelet. Where the kubelet's own output is
// not deterministic (it ranges over Go maps), the order chosen here is
// documented on the function.
package podfiles
