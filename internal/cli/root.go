// Package cli is weft's command line: it parses flags and wires the packages that do the work.
package cli

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/weftnet/weft/internal/version"
)

// Component runs one embedded program (kube-apiserver, kubectl, etcd ...) with its own
// arguments and returns its exit code. main supplies them, so this package does not import
// k8s.io/kubernetes and its tests stay quick to build.
type Component func(args []string) int

// Components are the embedded programs by name.
type Components map[string]Component

// NewRoot builds the weft command tree.
func NewRoot(components Components) *cobra.Command {
	root := &cobra.Command{
		Use:           "weft",
		Short:         "weft: a Kubernetes cluster's whole network, and a lab to run one on a single machine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Kubernetes packages register --version on the global flag set that cobra shows on every
	// command; `weft version` is weft's way, so keep it out of sight.
	_ = pflag.CommandLine.MarkHidden("version")
	root.AddCommand(newLabCommand(), newVersionCommand(), newAgentCommand(), newInstallCommand(), newStatusCommand(), newUninstallCommand(), newInstallCNICommand(), newNodeCommand(), newTraceCommand(), newWireGuardCommand(), newInternalCommand())
	root.AddCommand(passThrough("kubectl", "the real kubectl, pointed at the running lab unless KUBECONFIG says otherwise", false, withLabKubeconfig(components["kubectl"])))
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kube-network-policies"} {
		root.AddCommand(passThrough(name, "the embedded "+name+" (run by the lab supervisor)", true, components[name]))
	}
	return root
}

// passThrough hands every argument, flags included, to an embedded program.
func passThrough(name, short string, hidden bool, run Component) *cobra.Command {
	return &cobra.Command{
		Use:                name,
		Short:              short,
		Hidden:             hidden,
		DisableFlagParsing: true,
		Run: func(_ *cobra.Command, args []string) {
			os.Exit(run(args))
		},
	}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print weft's version and the Kubernetes version compiled in",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			cmd.Println(version.String())
		},
	}
}

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
