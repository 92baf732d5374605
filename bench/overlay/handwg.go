package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/wireguard"
)

// The hand-made WireGuard link: in each node a userspace WireGuard device (wireguard-go, the
// implementation weft's agent runs when the kernel has none), served by this same program
// inside the node's namespace and configured over its UAPI socket as `wg` does, with the
// peer's podCIDR routed into it. Pod MTU 1440: 1500 less WireGuard over IPv4.

func wgDevice(i int) string { return fmt.Sprintf("wgbench%d", i) }

// wgDeviceMain is the `wg-device NAME` subcommand: a userspace WireGuard device in the
// namespace it runs in, until it is killed.
func wgDeviceMain(name string) error {
	u, err := wireguard.StartUserspace(name, 1440, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	<-u.Done()
	return nil
}

// startWireGuard starts both nodes' devices and gives each the other as its one peer.
func (h *handNet) startWireGuard(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var keys [2]wgtypes.Key
	for i := range keys {
		if keys[i], err = wgtypes.GeneratePrivateKey(); err != nil {
			return err
		}
	}
	for i := 1; i <= 2; i++ {
		stop, err := startServer(ctx, inNS(ctx, nsPath(fmt.Sprintf("node%d", i)), self, "wg-device", wgDevice(i)), "ready")
		if err != nil {
			return fmt.Errorf("hand-made WireGuard device %s: %w", wgDevice(i), err)
		}
		h.stops = append(h.stops, stop)
	}
	client, err := wgctrl.New()
	if err != nil {
		return err
	}
	defer client.Close()
	for i, peer := 1, 2; i <= 2; i, peer = i+1, peer-1 {
		port := 51820
		endpoint := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(nodeIP(peer)), 51820))
		cfg := wgtypes.Config{PrivateKey: &keys[i-1], ListenPort: &port, ReplacePeers: true, Peers: []wgtypes.PeerConfig{{
			PublicKey: keys[peer-1].PublicKey(), Endpoint: endpoint, AllowedIPs: []net.IPNet{*netaddr.IPNet(netip.MustParsePrefix(podCIDR(peer)))},
		}}}
		if err := client.ConfigureDevice(wgDevice(i), cfg); err != nil {
			return fmt.Errorf("configure %s: %w", wgDevice(i), err)
		}
		node := fmt.Sprintf("node%d", i)
		if err := runAll(ctx, [][]string{
			ipn(node, "addr", "add", fmt.Sprintf("10.42.%d.0/32", i), "dev", wgDevice(i)),
			ipn(node, "link", "set", wgDevice(i), "up"),
		}); err != nil {
			return err
		}
	}
	return nil
}

// stopWireGuard ends the devices; a killed device leaves its UAPI socket file behind.
func (h *handNet) stopWireGuard() {
	for _, stop := range h.stops {
		stop()
	}
	for i := 1; i <= 2; i++ {
		_ = os.Remove(filepath.Join("/var/run/wireguard", wgDevice(i)+".sock"))
	}
}
