package lab

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/netns"
)

var errNotRoot = errors.New("weft lab needs root to create network namespaces: run it with sudo")

// Preflight checks, before anything is built, that this machine can run a lab: root, and the
// kernel features the lab uses, tried for real in a throwaway namespace.
func Preflight() error {
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
	return probeLinks()
}

// probeLinks creates a bridge and a veth pair in a namespace of its own and removes it again.
func probeLinks() error {
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
	return nil
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
