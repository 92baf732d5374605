package cni

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/hostport"
)

// HostPorts is what the commands need from the hostPort table (internal/hostport); unit tests
// use a fake. Entries are owned by an attachment, named by hostPortOwner.
type HostPorts interface {
	Add(ctx context.Context, owner, bridge string, entries []hostport.Entry) error
	Remove(ctx context.Context, owner string) error
	Retain(ctx context.Context, keep func(owner string) bool) error
	Check(ctx context.Context, owner string, entries []hostport.Entry) error
	FlushUDP(entries []hostport.Entry) error
}

// nodeHostPorts is the real table, opened on first use: a pod without hostPorts costs ADD and
// DEL no nft process at all.
type nodeHostPorts struct {
	once  sync.Once
	rules *hostport.Rules
	err   error
}

func (n *nodeHostPorts) open() (*hostport.Rules, error) {
	n.once.Do(func() {
		nft, err := knftables.New(knftables.InetFamily, hostport.Table)
		if err != nil {
			n.err = fmt.Errorf("hostPorts need nft: %w", err)
			return
		}
		n.rules = hostport.New(nft)
		n.rules.RouteLocalnet = hostport.SetRouteLocalnet
	})
	return n.rules, n.err
}

func (n *nodeHostPorts) Add(ctx context.Context, owner, bridge string, entries []hostport.Entry) error {
	r, err := n.open()
	if err != nil {
		return err
	}
	return r.Add(ctx, owner, bridge, entries)
}

func (n *nodeHostPorts) Remove(ctx context.Context, owner string) error {
	r, err := n.open()
	if err != nil {
		return err
	}
	return r.Remove(ctx, owner)
}

func (n *nodeHostPorts) Retain(ctx context.Context, keep func(string) bool) error {
	r, err := n.open()
	if err != nil {
		return err
	}
	return r.Retain(ctx, keep)
}

func (n *nodeHostPorts) Check(ctx context.Context, owner string, entries []hostport.Entry) error {
	r, err := n.open()
	if err != nil {
		return err
	}
	return r.Check(ctx, owner, entries)
}

func (n *nodeHostPorts) FlushUDP(entries []hostport.Entry) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	return hostport.FlushUDP(h, entries)
}

// hostPortTimeout bounds the nft processes of one command.
const hostPortTimeout = 30 * time.Second

// hostPortOwner names an attachment in the table's element comments.
func hostPortOwner(containerID, ifName string) string { return containerID + "/" + ifName }

// hostPortMarkers is the directory of one file per attachment that has hostPorts, named like
// its host veth and holding its owner name: DEL and GC read it instead of running nft for
// every pod. The file is written before the entries, so an entry never exists without it.
func hostPortMarkers(conf *Config) string { return filepath.Join(conf.DataDir, "hostports", conf.Name) }

func markerPath(conf *Config, owner string) string {
	id, ifName, _ := strings.Cut(owner, "/")
	return filepath.Join(hostPortMarkers(conf), HostVethName(id, ifName))
}

// addHostPorts maps the attachment's portMappings to its addresses.
func (p *Plugin) addHostPorts(conf *Config, owner string, ips []netip.Addr) error {
	entries := hostport.Entries(conf.PortMappings, ips)
	if len(entries) == 0 {
		return nil
	}
	if err := os.MkdirAll(hostPortMarkers(conf), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(markerPath(conf, owner), []byte(owner), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostPortTimeout)
	defer cancel()
	if err := p.HostPorts.Add(ctx, owner, conf.Bridge, entries); err != nil {
		return fmt.Errorf("runtimeConfig.portMappings: %w", err)
	}
	return p.HostPorts.FlushUDP(entries)
}

// delHostPorts removes the attachment's entries, if it ever had any.
func (p *Plugin) delHostPorts(conf *Config, owner string) error {
	marker := markerPath(conf, owner)
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostPortTimeout)
	defer cancel()
	if err := p.HostPorts.Remove(ctx, owner); err != nil {
		return err
	}
	if err := os.Remove(marker); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// gcHostPorts removes the entries of every attachment not in valid, on a node that ever had
// hostPorts: by marker, and in the table itself, for entries whose marker someone removed.
func (p *Plugin) gcHostPorts(conf *Config, valid map[string]bool) error {
	files, err := os.ReadDir(hostPortMarkers(conf))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostPortTimeout)
	defer cancel()
	if err := p.HostPorts.Retain(ctx, func(owner string) bool { return valid[owner] }); err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		path := filepath.Join(hostPortMarkers(conf), f.Name())
		owner, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if !valid[string(owner)] {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
