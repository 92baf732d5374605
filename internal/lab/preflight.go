package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/netns"
)

var errNotRoot = errors.New("weft lab needs root to create network namespaces: run it with sudo")

// Preflight checks, before anything is built, that this machine can run the lab p: root, and
// the kernel features the lab uses, tried for real in a throwaway namespace.
func Preflight(p Plan) error {
	if os.Geteuid() != 0 {
		return errNotRoot
	}
	for _, ns := range []string{"net", "mnt", "uts"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			return fmt.Errorf("the kernel lacks %s namespaces (/proc/self/ns/%s): weft lab needs a kernel with namespaces", ns, ns)
		}
	}
	if !kernelHasFS("overlay") {
		return errors.New("the kernel lacks the overlay file system, which gives each lab node its own /etc and /var/lib: load it with `modprobe overlay`")
	}
	return probeLinks(p)
}

// probeLinks creates a bridge and a veth pair in a namespace of its own, tries what p's
// optional parts need from nftables there, and removes the namespace again.
func probeLinks(p Plan) error {
	name := fmt.Sprintf("weft-preflight-%d", os.Getpid())
	if err := netns.Create(name); err != nil {
		return fmt.Errorf("cannot create a network namespace: %w", err)
	}
	defer netns.Delete(name)
	h, err := openNS(name)
	if err != nil {
		return err
	}
	defer h.close()
	if err := h.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probe-br"}}); err != nil {
		return fmt.Errorf("the kernel cannot create bridges (%w): load the bridge module with `modprobe bridge`", err)
	}
	if err := h.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe-a"}, PeerName: "probe-b"}); err != nil {
		return fmt.Errorf("the kernel cannot create veth pairs (%w): load the veth module with `modprobe veth`", err)
	}
	if p.Policy == PolicyKubeNetworkPolicies {
		return probeQueue(name)
	}
	return nil
}

// probeQueue checks that nftables can send packets to a userspace queue, which
// kube-network-policies needs for every new connection: without the kernel's nft_queue the
// upstream agent fails each sync with a bare "no such file or directory".
func probeQueue(ns string) error {
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader("table inet weft-preflight { chain c { type filter hook forward priority 0; queue num 100 bypass; }; }\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("--policy kube-network-policies: this kernel cannot queue packets to userspace from nftables (nft_queue: %s), which kube-network-policies needs: load it with `modprobe nft_queue`, or use --policy weft", strings.TrimSpace(firstLine(string(out))))
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func kernelHasFS(fs string) bool {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == fs {
			return true
		}
	}
	// Not loaded yet; the module may load on first mount.
	_, err = os.Stat("/sys/module/overlay")
	return err == nil || moduleAvailable(fs)
}

func moduleAvailable(name string) bool {
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return false
	}
	b, err := os.ReadFile("/lib/modules/" + strings.TrimSpace(string(rel)) + "/modules.dep")
	return err == nil && strings.Contains(string(b), "/"+name+".ko")
}
