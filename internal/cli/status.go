package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/install"
)

func newStatusCommand() *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "every node's weft agent: version, backend, proxy, DNS, last sync and problems",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect(kubeconfig, nil)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			now := time.Now()
			nodes, err := c.Status(ctx, now)
			if err != nil {
				return err
			}
			install.PrintStatus(cmd.OutOrStdout(), nodes, now)
			return nil
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, the lab named by $WEFT_LAB, or ~/.kube/config)")
	return cmd
}
