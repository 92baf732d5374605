package egressroute

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/nft"
	"github.com/weftnet/weft/internal/nlretry"
)

// Netlink is the part of the kernel's routing this package uses; *netlink.Handle has it all,
// and NewNetlink adds retries of interrupted dumps.
type Netlink interface {
	LinkByName(name string) (netlink.Link, error)
	LinkByIndex(index int) (netlink.Link, error)
	RouteGet(dst net.IP) ([]netlink.Route, error)
	RouteListFiltered(family int, filter *netlink.Route, mask uint64) ([]netlink.Route, error)
	RouteReplace(route *netlink.Route) error
	RouteDel(route *netlink.Route) error
	RuleListFiltered(family int, filter *netlink.Rule, mask uint64) ([]netlink.Rule, error)
	RuleAdd(rule *netlink.Rule) error
	RuleDel(rule *netlink.Rule) error
}

// Sysctl reads and writes /proc/sys/net of the caller's network namespace. Names are paths
// below /proc/sys, such as net/ipv4/conf/eth0.100/rp_filter (dots stay: link names have them).
type Sysctl interface {
	Get(name string) (string, error)
	Set(name, value string) error
}

// Kernel is everything this package touches on the node.
type Kernel struct {
	NFT     nft.Kernel // the inet weft-egressroute table
	Netlink Netlink
	Sysctl  Sysctl
}

// NewKernel is the real kernel of the calling process's network namespace.
func NewKernel() (Kernel, error) {
	table, err := nft.New(nft.InetFamily, Table, "")
	if err != nil {
		return Kernel{}, fmt.Errorf("%w (install the nftables package)", err)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return Kernel{}, fmt.Errorf("netlink: %w", err)
	}
	return Kernel{NFT: table, Netlink: NewNetlink(h), Sysctl: ProcSysctl{}}, nil
}

// NewNetlink wraps a handle so that dumps the kernel interrupted (a route changed mid-dump)
// are retried instead of being taken for the whole truth: a partial list would make a sync
// delete what it missed seeing.
func NewNetlink(h *netlink.Handle) Netlink { return nlretry.Handle{Handle: h} }

// ProcSysctl is Sysctl through /proc/sys, which shows the network namespace of the thread
// that opens it.
type ProcSysctl struct{}

func sysctlPath(name string) string { return filepath.Join("/proc/sys", name) }

// Get reads a value.
func (ProcSysctl) Get(name string) (string, error) {
	b, err := os.ReadFile(sysctlPath(name))
	return strings.TrimSpace(string(b)), err
}

// Set writes a value.
func (ProcSysctl) Set(name, value string) error {
	return os.WriteFile(sysctlPath(name), []byte(value), 0o644)
}
