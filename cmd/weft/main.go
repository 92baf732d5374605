// Command weft is a Kubernetes cluster's whole network in one binary, with a lab that runs a
// real multi-node cluster on one machine.
package main

import (
	"fmt"
	"os"

	"github.com/weftnet/weft/internal/cli"
	"github.com/weftnet/weft/internal/embedded"
)

func main() {
	if err := cli.NewRoot(embedded.Components()).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
