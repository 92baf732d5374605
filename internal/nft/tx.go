package nft

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Tx is one transaction on one table: what a sync sent, in order. A Kernel applies it whole
// or not at all.
type Tx struct {
	ops []op
	// setOf gives the declaration of a set the table holds, for a Kernel that encodes
	// elements itself.
	setOf func(name string) *Set
	// staged: the table was not in the kernel, so a Kernel may write tx in several
	// transactions, as long as packets meet none of it before all of it (stage.go).
	staged bool
}

type verb uint8

const (
	opAdd verb = iota
	opFlush
	opDelete
)

// op is one command; obj is tableObj, *Chain (its declaration, never its rules), ruleObj, *Set
// or *Element.
type op struct {
	verb verb
	obj  any
}

// tableObj is the table itself; its comment says what the table is for.
type tableObj struct{ comment string }

// ruleObj is a rule appended to a chain.
type ruleObj struct {
	chain string
	rule  Rule
}

func (t *Table) newTx() *Tx { return &Tx{setOf: t.setOf} }

func (tx *Tx) add(v verb, obj any) { tx.ops = append(tx.ops, op{v, obj}) }

// Len is the number of commands in tx.
func (tx *Tx) Len() int { return len(tx.ops) }

// ElementsOnly says whether tx only swaps elements: what most syncs send, and what New
// sends over netlink.
func (tx *Tx) ElementsOnly() bool {
	for _, o := range tx.ops {
		if _, ok := o.obj.(*Element); !ok {
			return false
		}
	}
	return true
}

// String is tx as nft commands, one a line: for golden tests, and for errors.
func (tx *Tx) String() string {
	var b strings.Builder
	for _, o := range tx.ops {
		b.WriteString([]string{"add ", "flush ", "delete "}[o.verb])
		switch obj := o.obj.(type) {
		case tableObj:
			b.WriteString("table")
		case *Chain:
			b.WriteString("chain " + obj.Name)
			if obj.Hook != nil && o.verb == opAdd {
				fmt.Fprintf(&b, " { type %s hook %s priority %s ; }", obj.Hook.Type, obj.Hook.Hook, obj.Hook.Priority)
			}
		case ruleObj:
			b.WriteString("rule " + obj.chain + " " + obj.rule.Text)
			if obj.rule.Comment != "" {
				fmt.Fprintf(&b, " comment %q", obj.rule.Comment)
			}
		case *Set:
			kind := "set"
			if obj.IsMap() {
				kind = "map"
			}
			b.WriteString(kind + " " + obj.Name)
			if o.verb == opAdd {
				b.WriteString(" { " + obj.declaration() + "}")
			}
		case *Element:
			b.WriteString("element " + obj.Set + " { ")
			writeElement(&b, obj, len(obj.Value) > 0)
			b.WriteString(" }")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// writeElement writes e as nft reads it inside braces: its key, comment and value.
func writeElement(b *strings.Builder, e *Element, withValue bool) {
	b.WriteString(strings.Join(e.Key, " . "))
	if e.Comment != "" {
		fmt.Fprintf(b, " comment %q", e.Comment)
	}
	if withValue {
		b.WriteString(" : " + strings.Join(e.Value, " . "))
	}
}

// writeFull puts the whole table into tx. In place: everything wanted is added (nothing
// happens where it exists), emptied and filled again, and what is no longer wanted is deleted;
// dynamic sets that stay keep what packets put there. Fresh: the table is deleted and made
// anew in the same transaction, for a table whose shape cannot be trusted. Either way no packet
// sees half a table.
func (t *Table) writeFull(tx *Tx, have Names) {
	// Room for every object and a flush per declaration, allocated once: a full sync of 30k
	// Services holds a quarter of a million.
	tx.ops = slices.Grow(tx.ops, len(t.holders)+t.sizes[chainObject]+t.sizes[setObject]+64)
	tx.add(opAdd, tableObj{t.comment})
	tx.staged = have.Absent && !t.fresh
	if t.fresh {
		tx.add(opDelete, tableObj{})
		tx.add(opAdd, tableObj{t.comment})
		have = Names{}
	}
	keep := map[string]bool{}
	// Declarations first, then rules (which refer to chains and sets), then elements (whose
	// verdicts refer to chains). Declarations in order of name, so that the kernel lists a
	// table the same way each time; elements in map order: sorting a full sync's hundreds of
	// thousands of them would cost more than the rest of building it, and nftables does not
	// care.
	var decls []objectID
	for id := range t.holders {
		if id.kind != elementObject {
			decls = append(decls, id)
		}
	}
	slices.SortFunc(decls, func(a, b objectID) int { return cmp.Or(cmp.Compare(a.kind, b.kind), strings.Compare(a.name, b.name)) })
	var chains []*Chain
	for _, id := range decls {
		switch id.kind {
		case chainObject:
			c := t.wanted(id).(*Chain)
			chains = append(chains, c)
			tx.add(opAdd, c)
			tx.add(opFlush, c)
		case setObject:
			s := t.wanted(id).(*Set)
			tx.add(opAdd, s)
			if !s.dynamic() {
				tx.add(opFlush, s)
			}
		}
		keep[id.name] = true
	}
	for _, c := range chains {
		for _, r := range c.Rules {
			tx.add(opAdd, ruleObj{c.Name, r})
		}
	}
	for id, owner := range t.holders {
		if id.kind == elementObject {
			tx.add(opAdd, t.versionOf(id, owner))
		}
	}
	// What nobody wants: chains emptied first, as only they refer to other objects.
	for name := range have.Chains {
		if !keep[name] {
			tx.add(opFlush, &Chain{Name: name})
		}
	}
	for name := range have.Chains {
		if !keep[name] {
			tx.add(opDelete, &Chain{Name: name})
		}
	}
	for name := range have.Sets {
		if !keep[name] {
			tx.add(opDelete, &Set{Name: name})
		}
	}
	for name := range have.Maps {
		if !keep[name] {
			tx.add(opDelete, &Set{Name: name, Type: " : "})
		}
	}
}

// declaration is the set's type, flags and timeout as nft writes them, each ended by " ; ".
func (s *Set) declaration() string {
	var b strings.Builder
	if s.TypeOf != "" {
		b.WriteString("typeof " + s.TypeOf + " ; ")
	} else {
		b.WriteString("type " + s.Type + " ; ")
	}
	if len(s.Flags) > 0 {
		b.WriteString("flags " + strings.Join(s.Flags, ",") + " ; ")
	}
	if s.Timeout > 0 {
		fmt.Fprintf(&b, "timeout %ds ; ", int(s.Timeout.Seconds()))
	}
	return b.String()
}

// dynamic sets are filled by packets (update @set): a full sync keeps their contents.
func (s *Set) dynamic() bool {
	for _, f := range s.Flags {
		if f == "dynamic" {
			return true
		}
	}
	return false
}

// writePending writes p in an order nftables accepts inside one transaction: declare new
// chains and sets, rewrite chains, swap elements, then empty and delete what went away
// (nothing refers to it by then).
func (t *Table) writePending(tx *Tx, p pendingSet) {
	for _, id := range p.added {
		if id.kind != elementObject {
			tx.add(opAdd, t.wanted(id))
		}
	}
	for _, id := range p.changed {
		if id.kind == chainObject {
			tx.add(opFlush, &Chain{Name: id.name})
		}
	}
	for _, ids := range [][]objectID{p.added, p.changed} {
		for _, id := range ids {
			if id.kind == chainObject {
				c := t.wanted(id).(*Chain)
				for _, r := range c.Rules {
					tx.add(opAdd, ruleObj{c.Name, r})
				}
			}
		}
	}
	for _, ids := range [][]objectID{p.changed, p.removed} {
		for _, id := range ids {
			if id.kind == elementObject {
				old := t.written[id].(*Element)
				tx.add(opDelete, &Element{Set: old.Set, Key: old.Key})
			}
		}
	}
	for _, ids := range [][]objectID{p.added, p.changed} {
		for _, id := range ids {
			if id.kind == elementObject {
				tx.add(opAdd, t.wanted(id))
			}
		}
	}
	for _, id := range p.removed {
		if id.kind == chainObject {
			tx.add(opFlush, &Chain{Name: id.name})
		}
	}
	for _, id := range p.removed {
		switch id.kind {
		case chainObject:
			tx.add(opDelete, &Chain{Name: id.name})
		case setObject:
			tx.add(opDelete, t.written[id])
		}
	}
}
