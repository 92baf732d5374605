package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// kube-proxy runs whatever iptables, iptables-save and iptables-restore are first on PATH: here
// iptables-nft, which is also what the kube-proxy image's wrapper picks on a node without rules.
// But iptables-nft-restore takes minutes for a full sync at 10k services (seconds with legacy),
// so the default is -iptables legacy: the child gets a directory of symlinks to xtables-legacy
// first on its PATH. -iptables nft measures what PATH gives.
func iptablesPath(backend, dir string) (string, error) {
	if backend == "nft" {
		return os.Getenv("PATH"), nil
	}
	bin := filepath.Join(dir, "iptables-"+backend)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	for _, tool := range []string{"iptables", "iptables-save", "iptables-restore"} {
		target := "/usr/sbin/" + tool[:len("iptables")] + "-" + backend + tool[len("iptables"):]
		if _, err := os.Stat(target); err != nil {
			return "", fmt.Errorf("-iptables %s: %w", backend, err)
		}
		link := filepath.Join(bin, tool)
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return "", err
		}
	}
	return bin + string(os.PathListSeparator) + os.Getenv("PATH"), nil
}
