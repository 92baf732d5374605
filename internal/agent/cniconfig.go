package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/weftnet/weft/internal/atomicfile"
)

// ConfListName is the file the agent owns in the CNI configuration directory. The "10-" prefix
// puts it first in the lexical order container runtimes use to pick a network.
const ConfListName = "10-weft.conflist"

// cniConfList renders the node's CNI configuration for the weft-cni plugin.
func cniConfList(podCIDRs []string, mtu int) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.1.0",
		"name":       "weft",
		"plugins": []map[string]any{{
			"type":        "weft-cni",
			"bridge":      "weft0",
			"mtu":         mtu,
			"hairpinMode": true,
			"podCIDRs":    podCIDRs,
			"dataDir":     "/var/lib/cni/weft",
			// The runtime passes a pod's hostPorts only to plugins that declare the
			// capability (runtimeConfig.portMappings); weft-cni maps them itself.
			"capabilities": map[string]bool{"portMappings": true},
		}},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeIfChanged writes atomically, and only when the content differs, so that a runtime reading
// the directory never sees half a file and an unchanged resync touches nothing.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// syncCNI writes the node's CNI configuration and lets the node forward for its pods.
func (a *Agent) syncCNI(podCIDRs []string, mtu int) error {
	if err := enableForwarding(); err != nil {
		return err
	}
	conf, err := cniConfList(podCIDRs, mtu)
	if err != nil {
		return err
	}
	changed, err := writeIfChanged(filepath.Join(a.opts.CNIConfDir, ConfListName), conf)
	if err != nil {
		return err
	}
	if changed {
		a.log.Info("CNI configuration written", "podCIDRs", podCIDRs, "mtu", mtu)
	}
	return nil
}

// enableForwarding lets the node route between its pods and the rest of the network.
func enableForwarding() error {
	for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if b, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(b)) == "1" {
			continue
		}
		if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("enable forwarding (%s): %w", f, err)
		}
	}
	return nil
}
