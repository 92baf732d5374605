// Package trace answers `weft trace`: what weft's nftables rules on this node do to one packet.
// It reads the live weft tables and the node's addresses, follows the packet with nfttrace and
// says in plain words which chains and rules it meets and how it ends.
package trace

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/weftnet/weft/internal/nfttrace"
)

// Options is the packet a user asks about.
type Options struct {
	From  string // the sender, ADDRESS or ADDRESS:PORT
	To    string // the destination, ADDRESS:PORT (ADDRESS for icmp)
	Proto string
	// FromNode says the node itself sends the packet: it starts at the output hook.
	FromNode bool
	// All traces every choice the rules can make at random, not only the first.
	All bool
}

// Defaults is a TCP packet.
func Defaults() Options { return Options{Proto: "tcp"} }

// defaultSourcePort stands for the client's ephemeral port when --from has none: weft's rules
// never read it.
const defaultSourcePort = 40000

var protos = []string{"tcp", "udp", "sctp", "icmp", "icmpv6"}

func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.From, "from", o.From, "the sender's address (ADDRESS or ADDRESS:PORT): a pod, a LAN client; with --from-node, one of this node's addresses (default: its first of the destination's family)")
	fs.StringVar(&o.To, "to", o.To, "the destination, ADDRESS:PORT ([ADDRESS]:PORT for IPv6; ADDRESS alone for icmp)")
	fs.StringVar(&o.Proto, "proto", o.Proto, "protocol: "+strings.Join(protos, ", "))
	fs.BoolVar(&o.FromNode, "from-node", o.FromNode, "the node itself sends the packet (a process on the node, a hostNetwork pod)")
	fs.BoolVar(&o.FromNode, "local", o.FromNode, "same as --from-node")
	fs.BoolVar(&o.All, "all", o.All, "trace every endpoint the rules can pick at random, not only the first")
}

// Validate names every problem with the flags and how to fix it.
func (o Options) Validate() error {
	_, err := o.packet(nil)
	return err
}

// packet builds the packet; local are the node's addresses, for a --from-node packet without
// --from (nil: only check the flags).
func (o Options) packet(local []netip.Addr) (nfttrace.Packet, error) {
	var errs []error
	p := nfttrace.Packet{Proto: o.Proto, Local: o.FromNode, SPort: defaultSourcePort}
	ports := o.Proto == "tcp" || o.Proto == "udp" || o.Proto == "sctp"
	if !slices.Contains(protos, o.Proto) {
		errs = append(errs, fmt.Errorf("--proto %q: use one of %s", o.Proto, strings.Join(protos, ", ")))
		ports = true
	}
	switch dst, port, err := parseEndpoint(o.To); {
	case o.To == "":
		errs = append(errs, errors.New("--to is required: the destination, such as --to 10.43.0.10:80"))
	case err != nil:
		errs = append(errs, fmt.Errorf("--to %q: give ADDRESS:PORT, such as 10.43.0.10:80 or [2001:cafe:43::10]:80", o.To))
	case ports && port == 0:
		errs = append(errs, fmt.Errorf("--to %s: %s needs a port, such as --to %s", o.To, o.Proto, netip.AddrPortFrom(dst, 80)))
	case !ports && port != 0:
		errs = append(errs, fmt.Errorf("--to %s: %s has no ports, give the address alone (--to %s)", o.To, o.Proto, dst))
	default:
		p.Dst, p.DPort = dst, port
	}
	switch src, port, err := parseEndpoint(o.From); {
	case o.From == "" && !o.FromNode:
		errs = append(errs, errors.New("--from is required: the sender's address, such as --from 10.42.1.5; or --from-node for a packet this node sends"))
	case o.From == "":
	case err != nil:
		errs = append(errs, fmt.Errorf("--from %q: give an address, such as 10.42.1.5 or 2001:cafe:42:1::5, or ADDRESS:PORT", o.From))
	default:
		p.Src = src
		if port != 0 {
			p.SPort = port
		}
	}
	if p.Src.IsValid() && p.Dst.IsValid() && p.Src.Is4() != p.Dst.Is4() {
		errs = append(errs, fmt.Errorf("--from %s and --to %s are of different address families: give both IPv4 or both IPv6", p.Src, p.Dst))
	}
	if p.Dst.IsValid() && (o.Proto == "icmp" && !p.Dst.Is4() || o.Proto == "icmpv6" && p.Dst.Is4()) {
		errs = append(errs, fmt.Errorf("--proto %s does not go with --to %s: use --proto %s", o.Proto, p.Dst, map[bool]string{true: "icmp", false: "icmpv6"}[p.Dst.Is4()]))
	}
	if err := errors.Join(errs...); err != nil || local == nil || !o.FromNode {
		return p, err
	}
	if p.Src.IsValid() {
		if !slices.Contains(local, p.Src) {
			return p, fmt.Errorf("--from %s is not an address of this node: with --from-node give one of %s, or leave --from out", p.Src, addrList(local, p.Dst.Is4()))
		}
		return p, nil
	}
	for _, a := range local {
		if a.Is4() == p.Dst.Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			p.Src = a
			return p, nil
		}
	}
	return p, fmt.Errorf("--from-node: this node has no %s address to send from to %s: give --from", family(p.Dst), p.Dst)
}

// parseEndpoint reads ADDRESS, ADDRESS:PORT or [ADDRESS]:PORT; port 0 when there is none.
func parseEndpoint(s string) (netip.Addr, uint16, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.Addr{}, 0, errors.New("port 0")
		}
		return ap.Addr().Unmap(), ap.Port(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, 0, fmt.Errorf("not an address: %q", s)
	}
	return a.Unmap(), 0, nil
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func addrList(as []netip.Addr, v4 bool) string {
	var out []string
	for _, a := range as {
		if a.Is4() == v4 && !a.IsLoopback() {
			out = append(out, a.String())
		}
	}
	if len(out) == 0 {
		return "(none of this family)"
	}
	return strings.Join(out, ", ")
}
