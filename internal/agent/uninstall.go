package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/cni"
)

// CNIPluginName is the plugin's file in the node's CNI bin directory.
const CNIPluginName = "weft-cni"

// Uninstall is Cleanup and then what pods' networking left on the node: the CNI configuration,
// the plugin in cniBinDir, the pods' bridge, weft-cni's IPAM leases and any weft-* nftables
// table (the hostPort table is weft-cni's). It runs when weft is removed, after the node's pods
// that used weft's network are gone: without the configuration the runtime cannot tear one down.
func (a *Agent) Uninstall(ctx context.Context, cniBinDir string) error {
	errs := []error{a.Cleanup(ctx)}
	for _, p := range []string{filepath.Join(a.opts.CNIConfDir, ConfListName), filepath.Join(cniBinDir, CNIPluginName)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(cni.DefaultDataDir); err != nil {
		errs = append(errs, err)
	}
	if link, err := netlink.LinkByName(cni.DefaultBridge); err == nil {
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("delete bridge %s: %w", cni.DefaultBridge, err))
		}
	} else if !errors.As(err, &netlink.LinkNotFoundError{}) {
		errs = append(errs, fmt.Errorf("find bridge %s: %w", cni.DefaultBridge, err))
	}
	errs = append(errs, deleteWeftTables(ctx))
	return errors.Join(errs...)
}

// deleteWeftTables deletes every nftables table named weft-*, in any family, and no other.
func deleteWeftTables(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "nft", "list", "tables").CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft list tables: %w: %s", err, out)
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line) // "table inet weft-proxy"
		if len(f) != 3 || f[0] != "table" || !strings.HasPrefix(f[2], "weft-") {
			continue
		}
		if out, err := exec.CommandContext(ctx, "nft", "delete", "table", f[1], f[2]).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("nft delete table %s %s: %w: %s", f[1], f[2], err, out))
		}
	}
	return errors.Join(errs...)
}
