package wireguard

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// ModeOf names the WireGuard behind a device as wgctrl reports it.
func ModeOf(t wgtypes.DeviceType) Mode {
	if t == wgtypes.LinuxKernel {
		return ModeKernel
	}
	return ModeUserspace
}

// Show writes the device as `wg show` does: the interface, then each peer with its endpoint,
// allowed IPs, latest handshake and transfer. The private key is never printed. names maps
// public keys to the Nodes that publish them, so a reader sees which peer is which node.
func Show(w io.Writer, dev *wgtypes.Device, names map[wgtypes.Key]string, now time.Time) {
	fmt.Fprintf(w, "interface: %s\n", dev.Name)
	fmt.Fprintf(w, "  mode: %s\n", ModeOf(dev.Type))
	fmt.Fprintf(w, "  public key: %s\n", dev.PublicKey)
	fmt.Fprintf(w, "  listening port: %d\n", dev.ListenPort)
	peers := slices.Clone(dev.Peers)
	slices.SortFunc(peers, func(a, b wgtypes.Peer) int { return strings.Compare(names[a.PublicKey], names[b.PublicKey]) })
	for _, p := range peers {
		fmt.Fprintf(w, "\npeer: %s\n", p.PublicKey)
		if n, ok := names[p.PublicKey]; ok {
			fmt.Fprintf(w, "  node: %s\n", n)
		}
		if p.Endpoint != nil {
			fmt.Fprintf(w, "  endpoint: %s\n", p.Endpoint)
		}
		var ips []string
		for _, n := range p.AllowedIPs {
			ips = append(ips, n.String())
		}
		fmt.Fprintf(w, "  allowed ips: %s\n", strings.Join(ips, ", "))
		if p.LastHandshakeTime.IsZero() {
			fmt.Fprintf(w, "  latest handshake: never\n")
		} else {
			fmt.Fprintf(w, "  latest handshake: %s ago\n", now.Sub(p.LastHandshakeTime).Round(time.Second))
		}
		fmt.Fprintf(w, "  transfer: %s received, %s sent\n", bytesText(p.ReceiveBytes), bytesText(p.TransmitBytes))
	}
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
