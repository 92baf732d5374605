package nft

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
	"github.com/mdlayher/netlink"
)

// netlinkElements writes element swaps of one table over netlink, in one transaction. Most
// syncs are such a swap (an endpoint came or went, a plain service was added); nft 1.0.6 reads
// every element of every set before it deletes one, which at 30k services costs more than all
// the rest of the sync. It also lists the table's objects by name, which nft can only do by
// reading every element too.
type netlinkElements struct {
	table *nftables.Table
	ns    *os.File
	// conn stays open between transactions: closing a netfilter netlink socket waits for an
	// RCU grace period in the kernel (about 10 ms here), longer than the rest of a sync.
	conn *nftables.Conn
	// layouts caches the parsed types, by type text.
	layouts map[string]layout
	// genConn reads the ruleset's generation (gen.go), lasting too.
	genConn *netlink.Conn
}

// errNeedsNFT says a change has to go through nft (a set nft reworks, an unknown type).
var errNeedsNFT = errors.New("these elements need nft")

func newNetlinkElements(family Family, table, nsPath string) (*netlinkElements, error) {
	fam, ok := map[Family]nftables.TableFamily{InetFamily: nftables.TableFamilyINet, IPFamily: nftables.TableFamilyIPv4, IP6Family: nftables.TableFamilyIPv6}[family]
	if !ok {
		return nil, fmt.Errorf("nftables family %q: want inet, ip or ip6", family)
	}
	w := &netlinkElements{table: &nftables.Table{Name: table, Family: fam}, layouts: map[string]layout{}}
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

// write sends tx's element deletions and additions, in its order, in one transaction; it
// returns errNeedsNFT, having sent nothing, when an element is of a kind it cannot encode.
func (w *netlinkElements) write(tx *Tx) error {
	// Everything is encoded before anything is queued: a refused element leaves nothing
	// behind on the lasting connection.
	type batch struct {
		add  bool
		set  string
		elts []nftables.SetElement
	}
	var batches []batch
	for _, o := range tx.ops {
		e := o.obj.(*Element)
		add := o.verb == opAdd
		s := tx.setOf(e.Set)
		if !writable(s) {
			return errNeedsNFT
		}
		ses, err := w.encode(e, s, add)
		if err != nil {
			return err
		}
		if n := len(batches); n > 0 && batches[n-1].add == add && batches[n-1].set == e.Set {
			batches[n-1].elts = append(batches[n-1].elts, ses...)
			continue
		}
		batches = append(batches, batch{add, e.Set, ses})
	}
	if err := w.connect(); err != nil {
		return err
	}
	for _, b := range batches {
		set := &nftables.Set{Name: b.set, Table: w.table}
		send := w.conn.SetDeleteElements
		if b.add {
			send = w.conn.SetAddElements
		}
		if err := send(set, b.elts); err != nil {
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

// encode turns an element of set s into the kernel's elements: one, or, for a range in an
// interval set of one field, its start and its end (see intervals.go).
func (w *netlinkElements) encode(e *Element, s *Set, withData bool) ([]nftables.SetElement, error) {
	l, ok := w.layoutOf(s)
	if !ok {
		return nil, errNeedsNFT
	}
	var se nftables.SetElement
	var end []byte
	var err error
	switch {
	case !l.interval:
		se.Key, err = encodeFields(l.key, e.Key)
	case len(l.key) > 1:
		se.Key, se.KeyEnd, err = encodeRanges(l.key, e.Key)
	default:
		var last []byte
		se.Key, last, err = encodeRanges(l.key, e.Key)
		end = after(last)
	}
	if err != nil {
		return nil, fmt.Errorf("%s key %v: %w", e.Set, e.Key, err)
	}
	se.Comment = e.Comment
	if withData && len(l.value) > 0 {
		if l.value[0] == fieldVerdict {
			if se.VerdictData, err = encodeVerdict(e.Value); err != nil {
				return nil, fmt.Errorf("%s value %v: %w", e.Set, e.Value, err)
			}
		} else if se.Val, err = encodeFields(l.value, e.Value); err != nil {
			return nil, fmt.Errorf("%s value %v: %w", e.Set, e.Value, err)
		}
	}
	if end == nil {
		return []nftables.SetElement{se}, nil
	}
	return []nftables.SetElement{se, {Key: end, IntervalEnd: true}}, nil
}

// writable says whether elements of s can go over netlink: sets whose elements nft would
// rework first (auto-merge), or that carry timeouts or packets' updates, are left to nft.
func writable(s *Set) bool {
	return s != nil && !slices.ContainsFunc(s.Flags, func(f string) bool { return f != "interval" })
}

// layoutOf is the set's parsed type, and whether it is an interval set.
func (w *netlinkElements) layoutOf(s *Set) (layout, bool) {
	if s == nil {
		return layout{}, false
	}
	interval := s.has("interval")
	text := s.Type + "\x00" + s.TypeOf + "\x00" + strconv.FormatBool(interval)
	if l, ok := w.layouts[text]; ok {
		return l, true
	}
	l, ok := parseLayout(s.Type, s.TypeOf)
	// A range of host-order integers (numgen's) has no "key after it" to end on.
	if interval && slices.Contains(l.key, fieldInteger) {
		ok = false
	}
	if ok {
		l.interval = interval
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

// layout is a set's key fields and, for a map, its value fields; interval sets hold ranges.
type layout struct {
	key, value []field
	interval   bool
}

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

// encodeVerdict reads a verdict value: "goto CHAIN", "jump CHAIN", "return", "drop", "accept".
func encodeVerdict(value []string) (*expr.Verdict, error) {
	if len(value) != 1 {
		return nil, fmt.Errorf("a verdict is one value, got %d", len(value))
	}
	word, chain, _ := strings.Cut(value[0], " ")
	kind, ok := map[string]expr.VerdictKind{"goto": expr.VerdictGoto, "jump": expr.VerdictJump, "return": expr.VerdictReturn,
		"drop": expr.VerdictDrop, "accept": expr.VerdictAccept}[word]
	if !ok || (chain == "") != (kind != expr.VerdictGoto && kind != expr.VerdictJump) {
		return nil, fmt.Errorf("verdict %q: want goto or jump with a chain, return, drop or accept", value[0])
	}
	return &expr.Verdict{Kind: kind, Chain: chain}, nil
}
