// weft-cni is the weft CNI plugin. It is kept small, without Kubernetes client code, since the
// runtime executes it for every pod.
package main

import "github.com/weftnet/weft/internal/cni"

func main() { cni.Main() }
