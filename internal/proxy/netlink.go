package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"sigs.k8s.io/knftables"
)

// ElementWriter sends a partial sync that only swaps elements of the proxy's sets and maps
// straight to the kernel, in one transaction. Most syncs are such a swap (an endpoint came or
// went, a plain service was added); nft 1.0.6 reads every element of every set before it
// deletes one, which at 30k services costs more than all the rest of the sync.
type ElementWriter interface {
	// WriteElements deletes dels, then adds adds, atomically; types tells it the sets' and
	// maps' types. It returns errNeedsNFT, having sent nothing, when an element is of a kind
	// it cannot encode.
	WriteElements(dels, adds []*knftables.Element, types SetTypes) error
}

// SetTypes gives a set's or map's declared type by name, as "type" or as "typeof"; ok is
// false for a set it does not know or one with flags (intervals, timeouts).
type SetTypes func(name string) (typ, typeOf string, ok bool)

// errNeedsNFT says a change has to go through nft (an interval set, an unknown type).
var errNeedsNFT = errors.New("these elements need nft")

// NetlinkElements writes elements of table inet Table over netlink, in the network namespace
// at nsPath ("" for the caller's own).
func NetlinkElements(nsPath string) (ElementWriter, error) {
	w := &netlinkElements{table: &nftables.Table{Name: Table, Family: nftables.TableFamilyINet}, layouts: map[string]layout{}}
	if nsPath != "" {
		f, err := os.Open(nsPath)
		if err != nil {
			return nil, fmt.Errorf("network namespace for nftables: %w", err)
		}
		// Kept open for the writer's lifetime: every transaction dials its socket there.
		w.ns = f
	}
	return w, nil
}

type netlinkElements struct {
	table *nftables.Table
	ns    *os.File
	// conn stays open between transactions: closing a netfilter netlink socket waits for an
	// RCU grace period in the kernel (about 10 ms here), longer than the rest of a sync.
	conn *nftables.Conn
	// layouts caches the parsed types, by type text.
	layouts map[string]layout
}

func (w *netlinkElements) WriteElements(dels, adds []*knftables.Element, types SetTypes) error {
	// Everything is encoded before anything is queued: a refused element leaves nothing
	// behind on the lasting connection.
	delBySet, delOrder, err := w.encode(dels, false, types)
	if err != nil {
		return err
	}
	addBySet, addOrder, err := w.encode(adds, true, types)
	if err != nil {
		return err
	}
	if err := w.connect(); err != nil {
		return err
	}
	for _, name := range delOrder {
		if err := w.conn.SetDeleteElements(&nftables.Set{Name: name, Table: w.table}, delBySet[name]); err != nil {
			return w.reset(err)
		}
	}
	for _, name := range addOrder {
		if err := w.conn.SetAddElements(&nftables.Set{Name: name, Table: w.table}, addBySet[name]); err != nil {
			return w.reset(err)
		}
	}
	if err := w.conn.Flush(); err != nil {
		return w.reset(err)
	}
	return nil
}

// connect opens the lasting connection if there is none.
func (w *netlinkElements) connect() error {
	if w.conn != nil {
		return nil
	}
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if w.ns != nil {
		opts = append(opts, nftables.WithNetNSFd(int(w.ns.Fd())))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	w.conn = conn
	return nil
}

// reset drops the connection after a failure (a fresh one next time: nothing half-sent or
// unread can linger) and reports err.
func (w *netlinkElements) reset(err error) error {
	_ = w.conn.CloseLasting()
	w.conn = nil
	return fmt.Errorf("netlink: %w", err)
}

// encode turns the elements into netlink's bytes, grouped by set in first-seen order.
func (w *netlinkElements) encode(elements []*knftables.Element, withData bool, types SetTypes) (map[string][]nftables.SetElement, []string, error) {
	bySet := map[string][]nftables.SetElement{}
	var order []string
	for _, e := range elements {
		name := e.Set + e.Map
		l, ok := w.layoutOf(name, types)
		if !ok {
			return nil, nil, errNeedsNFT
		}
		key, err := encodeFields(l.key, e.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("%s key %v: %w", name, e.Key, err)
		}
		se := nftables.SetElement{Key: key}
		if withData && len(l.value) > 0 {
			if l.value[0] == fieldVerdict {
				if se.VerdictData, err = encodeVerdict(e.Value); err != nil {
					return nil, nil, fmt.Errorf("%s value %v: %w", name, e.Value, err)
				}
			} else if se.Val, err = encodeFields(l.value, e.Value); err != nil {
				return nil, nil, fmt.Errorf("%s value %v: %w", name, e.Value, err)
			}
		}
		if _, seen := bySet[name]; !seen {
			order = append(order, name)
		}
		bySet[name] = append(bySet[name], se)
	}
	return bySet, order, nil
}

func (w *netlinkElements) layoutOf(name string, types SetTypes) (layout, bool) {
	typ, typeOf, ok := types(name)
	if !ok {
		return layout{}, false
	}
	text := typ + "\x00" + typeOf
	if l, ok := w.layouts[text]; ok {
		return l, true
	}
	l, ok := parseLayout(typ, typeOf)
	if ok {
		w.layouts[text] = l
	}
	return l, ok
}

// field is one part of a key or value, as nftables lays it out in a register.
type field int

const (
	fieldIPv4 field = iota
	fieldIPv6
	fieldProto   // inet_proto: one byte
	fieldPort    // inet_service: two bytes, network order
	fieldInteger // numgen's result: 32 bits, host order
	fieldVerdict
)

// layout is a set's key fields and, for a map, its value fields.
type layout struct{ key, value []field }

// parseLayout reads a set's "type" (ipv4_addr . inet_proto . inet_service : verdict) or
// "typeof" (ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport). It knows the
// types the skeleton uses; anything else is left to nft.
func parseLayout(typ, typeOf string) (layout, bool) {
	spec, parse := typ, typeField
	if typeOf != "" {
		spec, parse = typeOf, typeOfField
	}
	keySpec, valueSpec, isMap := strings.Cut(spec, " : ")
	var l layout
	var ok bool
	if l.key, ok = parseFields(keySpec, parse); !ok || slices.Contains(l.key, fieldVerdict) {
		return layout{}, false
	}
	if isMap {
		if l.value, ok = parseFields(valueSpec, parse); !ok {
			return layout{}, false
		}
		if slices.Contains(l.value, fieldVerdict) && len(l.value) != 1 {
			return layout{}, false
		}
	}
	return l, true
}

func parseFields(spec string, parse func(string) (field, bool)) ([]field, bool) {
	var fields []field
	for _, part := range strings.Split(spec, " . ") {
		f, ok := parse(strings.TrimSpace(part))
		if !ok {
			return nil, false
		}
		fields = append(fields, f)
	}
	return fields, true
}

func typeField(s string) (field, bool) {
	f, ok := map[string]field{"ipv4_addr": fieldIPv4, "ipv6_addr": fieldIPv6, "inet_proto": fieldProto, "inet_service": fieldPort, "verdict": fieldVerdict}[s]
	return f, ok
}

func typeOfField(s string) (field, bool) {
	switch {
	case s == "ip daddr" || s == "ip saddr":
		return fieldIPv4, true
	case s == "ip6 daddr" || s == "ip6 saddr":
		return fieldIPv6, true
	case strings.HasPrefix(s, "numgen "):
		return fieldInteger, true
	case strings.HasSuffix(s, " dport") || strings.HasSuffix(s, " sport"):
		return fieldPort, true
	}
	return 0, false
}

// encodeFields lays the values out as the kernel keeps them: in a concatenation every field
// starts on a 4-byte register boundary.
func encodeFields(fields []field, values []string) ([]byte, error) {
	if len(values) != len(fields) {
		return nil, fmt.Errorf("%d values for %d fields", len(values), len(fields))
	}
	var out []byte
	for i, f := range fields {
		b, err := encodeField(f, values[i])
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		if len(fields) > 1 {
			for len(out)%4 != 0 {
				out = append(out, 0)
			}
		}
	}
	return out, nil
}

func encodeField(f field, v string) ([]byte, error) {
	switch f {
	case fieldIPv4, fieldIPv6:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Is4() != (f == fieldIPv4) {
			return nil, fmt.Errorf("%q is not an address of the set's family", v)
		}
		return a.AsSlice(), nil
	case fieldProto:
		p, ok := map[string]byte{"tcp": 6, "udp": 17, "sctp": 132}[v]
		if !ok {
			return nil, fmt.Errorf("unknown protocol %q", v)
		}
		return []byte{p}, nil
	case fieldPort:
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", v, err)
		}
		return binary.BigEndian.AppendUint16(nil, uint16(n)), nil
	case fieldInteger:
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("integer %q: %w", v, err)
		}
		return binary.NativeEndian.AppendUint32(nil, uint32(n)), nil
	}
	return nil, fmt.Errorf("field kind %d has no encoding", f)
}

// encodeVerdict reads the proxy's verdict values: "goto CHAIN", "jump CHAIN", "drop", "accept".
func encodeVerdict(value []string) (*expr.Verdict, error) {
	if len(value) != 1 {
		return nil, fmt.Errorf("a verdict is one value, got %d", len(value))
	}
	word, chain, _ := strings.Cut(value[0], " ")
	kind, ok := map[string]expr.VerdictKind{"goto": expr.VerdictGoto, "jump": expr.VerdictJump, "drop": expr.VerdictDrop, "accept": expr.VerdictAccept}[word]
	if !ok || (chain == "") != (kind == expr.VerdictDrop || kind == expr.VerdictAccept) {
		return nil, fmt.Errorf("verdict %q: want goto or jump with a chain, drop or accept", value[0])
	}
	return &expr.Verdict{Kind: kind, Chain: chain}, nil
}
