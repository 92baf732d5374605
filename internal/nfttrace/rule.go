package nfttrace

import "net/netip"

// A rule is parsed once, when the ruleset is loaded, into the items below; the tracer then
// walks them left to right as the kernel does: a match that fails ends the rule, a
// statement takes effect, a verdict ends it.
type rule struct {
	text    string // without the comment
	comment string
	items   []item
}

type item interface{ isItem() }

// match compares a selector (or a concatenation) with a literal, an anonymous set or a
// named set.
type match struct {
	key   []selector
	mask  *uint64 // `meta mark & 0x4000 ...`
	neg   bool    // `!=`
	exact bool    // `==`: no bitmask shortcut for flags
	// Exactly one of: a literal (one element, lookup false), an anonymous set, a named set.
	elems  [][]pat
	lookup bool
	set    string
}

// vmap jumps by a lookup: `<key> vmap @name` or `<key> vmap { k : goto x , ... }`.
type vmap struct {
	key   []selector
	set   string
	elems []mapElem
}

type mapElem struct {
	key     []pat
	verdict verdict
}

type verdictKind int

const (
	vCont verdictKind = iota // no verdict, or `return`: the caller goes on
	vAccept
	vDrop
	vReject
	vJump
	vGoto
	vReturn
)

type verdict struct {
	kind  verdictKind
	chain string
}

// markSet is `meta mark set 0x1` (one op '=') or `meta mark set meta mark & 0xff | 0x4000`
// (ops '|', '&' or '^', applied in order).
type markSet []markOp

type markOp struct {
	op byte
	n  uint64
}

type natKind int

const (
	natDNAT natKind = iota + 1
	natSNAT
	natMasq
)

// nat is `dnat ip to 10.0.0.1:80`, `dnat ip to <key> map @name`, `snat ip to 1.2.3.4` or
// `masquerade`.
type nat struct {
	kind  natKind
	v     int // 4, 6, or 0 when the rule names no family
	addr  netip.Addr
	port  uint16
	key   []selector // with set: the map lookup's key
	set   string
	flags string // masquerade's options, kept for the trace's text
}

// setUpdate is `update @name { key }` or `add @name { key }`.
type setUpdate struct {
	set string
	key []selector
}

// comment is a rule's comment: what it says it is for. It never reaches the items.
type comment string

func (comment) isItem() {}

// noop is a statement with no effect on where the packet goes: counter, log, comment.
type noop struct{}

func (match) isItem()     {}
func (vmap) isItem()      {}
func (verdict) isItem()   {}
func (markSet) isItem()   {}
func (nat) isItem()       {}
func (setUpdate) isItem() {}
func (noop) isItem()      {}
