package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	clusterdns "github.com/weftnet/weft/internal/dns"
	"github.com/weftnet/weft/internal/nft"
)

// newDNSServer runs the agent's cluster DNS on its own, at --dns-address on port 53, without
// touching the node: no address is added and no nftables table written (both are kept in
// memory only). bench/dns pins it to one core beside CoreDNS, which the agent as a whole
// cannot be without pinning its other features too. Its informer factory serves the DNS alone,
// so it keeps of each object only what the records use.
func newDNSServer() *cobra.Command {
	o := clusterdns.Defaults()
	o.Service = "kube-system/weft-standalone-dns-none"
	o.Handover = "" // the agent's bridge sets it; the standalone server hands nothing over
	var kubeconfig string
	var bridgeFrom string
	cmd := &cobra.Command{
		Use:  "dns-server --kubeconfig FILE --dns-address 127.0.0.21 [--dns-* flags]",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if len(o.Addresses) == 0 && bridgeFrom == "" {
				return errors.New("--dns-address: give the address to answer at, such as 127.0.0.21")
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return fmt.Errorf("--kubeconfig: %w", err)
			}
			cfg.UserAgent = "weft-dns-server"
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(clusterdns.StripForDNS))
			srv := clusterdns.New(o, nft.NewFake(nft.InetFamily, clusterdns.Table), keptAddresses{},
				logger().With("feature", "dns"), prometheus.NewRegistry())
			if bridgeFrom != "" {
				return srv.RunBridge(ctx, factory, bridgeFrom)
			}
			return srv.RunWith(ctx, factory, time.Minute)
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server to follow")
	cmd.Flags().StringVar(&bridgeFrom, "dns-bridge-from", "", "take the DNS sockets of the exiting agent at this abstract unix socket and answer on them until the next agent takes them over (the agent starts this)")
	_ = cmd.Flags().MarkHidden("dns-bridge-from")
	return cmd
}

// keptAddresses leaves the node's addresses alone: the standalone server answers at addresses
// the node already has (127.0.0.0/8 on lo, or ones its agent holds).
type keptAddresses struct{}

func (keptAddresses) Ensure([]netip.Addr) error { return nil }
func (keptAddresses) Remove([]netip.Addr) error { return nil }
