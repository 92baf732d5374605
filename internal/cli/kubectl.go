package cli

import (
	"fmt"
	"os"

	"github.com/weftnet/weft/internal/lab"
)

// withLabKubeconfig points kubectl at a running lab (WEFT_LAB names it, default "default")
// unless the user set KUBECONFIG or passed --kubeconfig.
func withLabKubeconfig(kubectl Component) Component {
	return func(args []string) int {
		if os.Getenv("KUBECONFIG") == "" && !hasFlag(args, "--kubeconfig") {
			name := os.Getenv("WEFT_LAB")
			if name == "" {
				name = "default"
			}
			dataDir := os.Getenv("WEFT_DATA_DIR")
			if dataDir == "" {
				dataDir = lab.Defaults().DataDir
			}
			path := lab.AdminKubeconfig(lab.StateDir(dataDir, name))
			if _, err := os.Stat(path); err != nil {
				fmt.Fprintf(os.Stderr, "weft kubectl: no lab %q is running (no %s): start one with `sudo weft lab up`, or set KUBECONFIG\n", name, path)
				return 1
			}
			os.Setenv("KUBECONFIG", path)
		}
		return kubectl(args)
	}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || len(a) > len(flag) && a[:len(flag)+1] == flag+"=" {
			return true
		}
	}
	return false
}
