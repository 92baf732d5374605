package trace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/nfttrace"
	"github.com/weftnet/weft/internal/proxy"
)

// Node is what a trace reads from the node: its nftables tables and its addresses.
type Node interface {
	// Tables lists the tables as `nft list tables` does: "inet weft-proxy".
	Tables(ctx context.Context) ([]string, error)
	// Table is the text of `nft list table FAMILY NAME`.
	Table(ctx context.Context, family, name string) (string, error)
	// Addrs are the node's own addresses.
	Addrs(ctx context.Context) ([]netip.Addr, error)
}

// Live is the node of the current network namespace: nft and netlink.
type Live struct{}

func (Live) Tables(ctx context.Context) ([]string, error) {
	out, err := nft(ctx, "list", "tables")
	if err != nil {
		return nil, err
	}
	var tables []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "table" {
			tables = append(tables, f[1]+" "+f[2])
		}
	}
	return tables, nil
}

func (Live) Table(ctx context.Context, family, name string) (string, error) {
	return nft(ctx, "list", "table", family, name)
}

func (Live) Addrs(context.Context) ([]netip.Addr, error) {
	var addrs []netlink.Addr
	var err error
	// A dump interrupted by a concurrent change is retried, as everywhere in weft.
	for range 5 {
		if addrs, err = netlink.AddrList(nil, netlink.FAMILY_ALL); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list this node's addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

func nft(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "nft", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", errors.New("nft is not installed: weft trace reads the rules with it (Debian: apt-get install nftables)")
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "Operation not permitted") {
			msg += " (reading nftables needs root: run weft trace with sudo)"
		}
		return "", fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// ProxyTable is the service proxy's table, which every trace needs.
var ProxyTable = "inet " + proxy.Table

// rules is what a trace runs on.
type rules struct {
	rs   *nfttrace.Ruleset
	read []string // the tables read, "inet weft-proxy" first
	// left lists the weft tables left out, each with why: the tracer cannot simulate them.
	left []string
}

// load reads weft-proxy and every other weft table that the tracer can simulate; a weft table
// it cannot is left out and said so, never half read.
func load(ctx context.Context, node Node) (*rules, error) {
	tables, err := node.Tables(ctx)
	if err != nil {
		return nil, err
	}
	var weft []string
	for _, t := range tables {
		if t == ProxyTable {
			weft = append([]string{t}, weft...)
		} else if _, name, _ := strings.Cut(t, " "); strings.HasPrefix(name, "weft-") {
			weft = append(weft, t)
		}
	}
	if len(weft) == 0 || weft[0] != ProxyTable {
		return nil, fmt.Errorf("no table %s in this network namespace: is the weft agent running with --proxy weft? (in the lab: sudo weft lab exec node-1 -- weft trace ...)", ProxyTable)
	}
	slices.Sort(weft[1:])
	r := &rules{}
	var texts []string
	for _, t := range weft {
		family, name, _ := strings.Cut(t, " ")
		text, err := node.Table(ctx, family, name)
		if err == nil {
			_, err = nfttrace.Parse(text)
		}
		switch {
		case err != nil && t == ProxyTable:
			return nil, fmt.Errorf("table %s: %w", t, err)
		case err != nil:
			r.left = append(r.left, fmt.Sprintf("%s (%v)", t, err))
		default:
			r.read = append(r.read, t)
			texts = append(texts, text)
		}
	}
	if r.rs, err = nfttrace.Parse(strings.Join(texts, "\n")); err != nil {
		return nil, err
	}
	return r, nil
}
