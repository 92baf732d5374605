package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/install"
)

func newUninstallCommand() *cobra.Command {
	o := install.Defaults()
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "remove weft from the cluster and from every node: tables, routes, devices, CNI configuration and plugin",
		Long: `uninstall deletes the agents' DaemonSet, runs "weft agent --uninstall" on every node (in a
DaemonSet of its own, with the agents' image, rights and configuration), waits until every node
has run it, then deletes everything weft install applied. Pods that use weft's network lose it:
delete them first, or let their nodes get another CNI plugin.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect(kubeconfig, nil) // the agents' own address stays in their ConfigMap
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			out := cmd.OutOrStdout()
			if err := c.Uninstall(ctx, o, out); err != nil {
				return err
			}
			fmt.Fprintln(out, "weft is uninstalled; every node is clean")
			return nil
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, the lab named by $WEFT_LAB, or ~/.kube/config)")
	cmd.Flags().StringVar(&o.Image, "image", o.Image, "weft's image for the cleanup pods, when the agents' DaemonSet is already gone")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for each step")
	return cmd
}
