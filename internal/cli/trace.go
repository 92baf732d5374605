package cli

import (
	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/trace"
)

func newTraceCommand() *cobra.Command {
	o := trace.Defaults()
	cmd := &cobra.Command{
		Use:   "trace --to ADDRESS:PORT (--from ADDRESS | --from-node) [--proto tcp] [--all]",
		Short: "follow a packet through weft's nftables rules on this node: service, endpoint, masquerade, or why it is refused (needs root)",
		Long: `weft trace reads the weft tables of this network namespace (nft list table inet weft-proxy,
and the other weft-* tables the tracer can simulate) and this node's addresses, and says what
the rules do to one new connection: the chains and rules it meets, the endpoint DNAT sends it
to, whether it is masqueraded, or why it is rejected or dropped. Nothing is sent.`,
		Example: `  sudo weft lab exec node-1 -- weft trace --from 10.42.1.5 --to 10.43.0.10:80
  sudo weft lab exec node-1 -- weft trace --from-node --to 10.43.0.10:53 --proto udp --all
  sudo weft lab exec node-1 -- weft trace --from 192.168.1.50 --to 192.168.1.11:30080
  sudo weft trace --from 2001:cafe:42::7 --to "[2001:cafe:43::10]:443"   # on a node of a real cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := trace.Run(cmd.Context(), o, trace.Live{}, cmd.OutOrStdout())
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
