package cli

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	clusterdns "github.com/weftnet/weft/internal/dns"
)

// newLabDNS is the lab router's DNS server: the nodes' upstream resolver for a small zone.
func newLabDNS() *cobra.Command {
	var zone, listen string
	var records []string
	cmd := &cobra.Command{
		Use:  "lab-dns --zone lab.example. --record NAME=ADDR ...",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			recs := map[string][]netip.Addr{}
			for _, r := range records {
				name, addr, ok := strings.Cut(r, "=")
				a, err := netip.ParseAddr(addr)
				if !ok || name == "" || err != nil {
					return fmt.Errorf("--record %q: give NAME=ADDR, such as external.lab.example=192.168.2.10", r)
				}
				recs[name] = append(recs[name], a)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return clusterdns.ServeStatic(ctx, listen, zone, recs, logger())
		},
	}
	cmd.Flags().StringVar(&zone, "zone", "lab.example.", "the zone answered")
	cmd.Flags().StringVar(&listen, "listen", ":53", "address to answer at, UDP and TCP")
	cmd.Flags().StringArrayVar(&records, "record", nil, "NAME=ADDR, an A or AAAA record; repeatable")
	return cmd
}
