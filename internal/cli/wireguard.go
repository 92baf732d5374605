package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/weftnet/weft/internal/overlay"
	"github.com/weftnet/weft/internal/wireguard"
)

// newWireGuardCommand looks at and rotates the wireguard backend's device on this node (in the
// lab: `weft lab exec node-1 -- weft wireguard show`). Kernel and userspace devices alike are
// reached the way `wg` reaches them: netlink, or the UAPI socket under /var/run/wireguard.
func newWireGuardCommand() *cobra.Command {
	device := overlay.WireGuardDevice
	cmd := &cobra.Command{Use: "wireguard", Short: "show or rotate this node's WireGuard device (backend wireguard)"}
	cmd.PersistentFlags().StringVar(&device, "device", device, "the WireGuard device")

	show := &cobra.Command{
		Use:   "show",
		Short: "peers, endpoints, latest handshakes and bytes, like `wg show` (never the private key)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			dev, err := readDevice(device)
			if err != nil {
				return err
			}
			wireguard.Show(os.Stdout, dev, nil, time.Now())
			return nil
		},
	}

	stateDir, wait := "/var/lib/weft", 15*time.Second
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "make a new key pair; the agent applies it and publishes the public key, and peers follow",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			before, err := readDevice(device)
			if err != nil {
				return err
			}
			key, err := wireguard.WriteNewKey(wireguard.KeyFile(stateDir))
			if err != nil {
				return err
			}
			fmt.Printf("new public key %s (was %s)\n", key.PublicKey(), before.PublicKey)
			// The agent watches the key file; its device taking the key says the rotation is live.
			deadline := time.Now().Add(wait)
			for {
				dev, err := readDevice(device)
				if err == nil && dev.PublicKey == key.PublicKey() {
					fmt.Println("the agent applied it and publishes it on the Node; peers follow from the annotation")
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("the key file %s has the new key, but the device %s did not take it within %s: is the agent running with --state-dir %s?",
						wireguard.KeyFile(stateDir), device, wait, stateDir)
				}
				time.Sleep(200 * time.Millisecond)
			}
		},
	}
	rotate.Flags().StringVar(&stateDir, "state-dir", stateDir, "the agent's --state-dir, where the private key lives")
	rotate.Flags().DurationVar(&wait, "wait", wait, "how long to wait for the agent to apply the new key")
	cmd.AddCommand(show, rotate)
	return cmd
}

func readDevice(name string) (*wgtypes.Device, error) {
	c, err := wgctrl.New()
	if err != nil {
		return nil, fmt.Errorf("WireGuard control: %w", err)
	}
	defer c.Close()
	dev, err := c.Device(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no WireGuard device %s on this node: is the agent running with --backend wireguard? (in the lab: weft lab exec node-1 -- weft wireguard show)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("read WireGuard device %s: %w", name, err)
	}
	return dev, nil
}
