package cni

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/hostport"
	"github.com/weftnet/weft/internal/nft"
)

// HostPorts is what the commands need from the hostPort table (internal/hostport) of the
// network conf names; unit tests use a fake. Entries are owned by an attachment, named by
// hostPortOwner.
type HostPorts interface {
	Add(ctx context.Context, conf *Config, owner string, entries []hostport.Entry) error
	Remove(ctx context.Context, conf *Config, owner string) error
	Retain(ctx context.Context, conf *Config, keep func(owner string) bool) error
	Check(ctx context.Context, conf *Config, owner string, entries []hostport.Entry) error
	FlushUDP(entries []hostport.Entry) error
}

// nodeHostPorts is the real table. Its kernel is opened on first need: a pod without
// hostPorts costs ADD, DEL and GC no nft process at all (internal/hostport looks at its
// records first).
type nodeHostPorts struct {
	// open gives the kernel (nft.New on a node); tests count its calls.
	open   func() (nft.Kernel, error)
	once   sync.Once
	kernel nft.Kernel
	err    error
}

func newNodeHostPorts() *nodeHostPorts {
	return &nodeHostPorts{open: func() (nft.Kernel, error) { return nft.New(nft.InetFamily, hostport.Table, "") }}
}

// rules is the table of conf's network, on its bridge, with its records in the data
// directory. One kernel serves every call of the command (ADD's undo removes what it added).
func (n *nodeHostPorts) rules(conf *Config) *hostport.Rules {
	r := hostport.New(func() (nft.Kernel, error) {
		n.once.Do(func() { n.kernel, n.err = n.open() })
		return n.kernel, n.err
	}, hostPortRecords(conf), conf.Bridge)
	r.RouteLocalnet = hostport.SetRouteLocalnet
	return r
}

func (n *nodeHostPorts) Add(ctx context.Context, conf *Config, owner string, entries []hostport.Entry) error {
	return n.rules(conf).Add(ctx, owner, entries)
}

func (n *nodeHostPorts) Remove(ctx context.Context, conf *Config, owner string) error {
	return n.rules(conf).Remove(ctx, owner)
}

func (n *nodeHostPorts) Retain(ctx context.Context, conf *Config, keep func(string) bool) error {
	return n.rules(conf).Retain(ctx, keep)
}

func (n *nodeHostPorts) Check(ctx context.Context, conf *Config, owner string, entries []hostport.Entry) error {
	return n.rules(conf).Check(ctx, owner, entries)
}

func (n *nodeHostPorts) FlushUDP(entries []hostport.Entry) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	return hostport.FlushUDP(h, entries)
}

// hostPortTimeout bounds the table's changes of one command.
const hostPortTimeout = 30 * time.Second

// hostPortOwner names an attachment in the hostPort records.
func hostPortOwner(containerID, ifName string) string { return containerID + "/" + ifName }

// hostPortRecords is the directory of the network's hostPort records (internal/hostport).
func hostPortRecords(conf *Config) string { return filepath.Join(conf.DataDir, "hostports", conf.Name) }

// addHostPorts maps the attachment's portMappings to its addresses.
func (p *Plugin) addHostPorts(conf *Config, owner string, ips []netip.Addr) error {
	entries := hostport.Entries(conf.PortMappings, ips)
	if len(entries) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostPortTimeout)
	defer cancel()
	if err := p.HostPorts.Add(ctx, conf, owner, entries); err != nil {
		return fmt.Errorf("runtimeConfig.portMappings: %w", err)
	}
	return p.HostPorts.FlushUDP(entries)
}

// delHostPorts removes the attachment's entries, if it ever had any.
func (p *Plugin) delHostPorts(conf *Config, owner string) error {
	ctx, cancel := context.WithTimeout(context.Background(), hostPortTimeout)
	defer cancel()
	return p.HostPorts.Remove(ctx, conf, owner)
}

// gcHostPorts removes the entries of every attachment not in valid, and whatever the table
// holds that no attachment's record accounts for.
func (p *Plugin) gcHostPorts(conf *Config, valid map[string]bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), hostPortTimeout)
	defer cancel()
	return p.HostPorts.Retain(ctx, conf, func(owner string) bool { return valid[owner] })
}
