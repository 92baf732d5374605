package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/weftnet/weft/internal/agent"
)

// newAgentCommand runs weft's per-node agent: in the lab the node runtime starts it; on a real
// cluster it runs as a DaemonSet.
func newAgentCommand() *cobra.Command {
	o := agent.Defaults()
	var kubeconfig string
	var cleanup, uninstall bool
	var cniBinDir string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "run weft's per-node agent (in the lab each node runs one)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := errors.Join(o.Complete(os.Getenv), o.Validate()); err != nil {
				return err
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return fmt.Errorf("--kubeconfig: %w", err)
			}
			cfg.UserAgent = "weft-agent/" + o.NodeName
			o.DNS.Kubeconfig = kubeconfig // for the DNS bridge a restarting agent leaves
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return err
			}
			a, err := agent.New(o, client, dyn, logger())
			if err != nil {
				return err
			}
			switch {
			case uninstall:
				return a.Uninstall(ctx, cniBinDir)
			case cleanup:
				return a.Cleanup(ctx)
			}
			err = a.Run(ctx)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig (empty: in-cluster configuration)")
	cmd.Flags().BoolVar(&cleanup, "cleanup", false, "remove what the agent made on this node (VXLAN devices, weft's routes, rules and nftables tables) and exit; for uninstalling")
	cmd.Flags().BoolVar(&uninstall, "uninstall", false, "--cleanup, then also remove the CNI configuration, the plugin in --cni-bin-dir, the pods' bridge, weft-cni's IPAM leases and every weft-* nftables table, and exit (weft uninstall runs it on every node)")
	cmd.Flags().StringVar(&cniBinDir, "cni-bin-dir", "/opt/cni/bin", "where weft-cni is installed (for --uninstall)")
	return cmd
}
