package nft

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// Kernel is where a Table is written: one table of one family. New gives the kernel's,
// NewFake one in memory.
type Kernel interface {
	// Table names the table, "inet weft-proxy", for messages.
	Table() string
	// Run applies tx whole or not at all.
	Run(ctx context.Context, tx *Tx) error
	// List names the table's chains, sets and maps (none, and no error, without a table).
	List(ctx context.Context) (Names, error)
	// holds says whether the kernel's table holds exactly what w gives (see verify.go).
	holds(ctx context.Context, w func() written) (bool, error)
	// generation is the namespace's ruleset generation (gen.go); ok false: unknown.
	generation() (gen uint32, ok bool)
	// elements lists a set's elements as the kernel holds them (elements.go).
	elements(ctx context.Context, set string) ([]*Element, error)
}

// Names are a table's objects by name, as a full sync in place lists them.
type Names struct {
	Chains, Sets, Maps map[string]bool
	// Absent says the table itself is not there: a full sync may then write it in stages
	// (stage.go).
	Absent bool
}

// IsNotFound says whether err is nftables saying an object is not there.
func IsNotFound(err error) bool { return knftables.IsNotFound(err) }

// knftTx turns tx into a knftables transaction. batch writes each run of element adds in a
// few commands per set: nft parses a command of thousands of elements about twice as fast as
// as many commands of one. knftables' Fake reads a batch as one element, so it gets them one
// by one.
func knftTx(nft knftables.Interface, tx *Tx, batch bool) *knftables.Transaction {
	out := nft.NewTransaction()
	bySet := map[string][]*Element{}
	var order []string
	flushBatches := func() {
		for _, set := range order {
			elements := bySet[set]
			for len(elements) > 0 {
				n := min(len(elements), elementsPerCommand)
				out.Add(batched(set, isMap(set, tx.setOf), elements[:n]))
				elements = elements[n:]
			}
		}
		clear(bySet)
		order = order[:0]
	}
	for _, o := range tx.ops {
		if e, ok := o.obj.(*Element); ok && batch && o.verb == opAdd {
			if _, seen := bySet[e.Set]; !seen {
				order = append(order, e.Set)
			}
			bySet[e.Set] = append(bySet[e.Set], e)
			continue
		}
		flushBatches()
		obj := knftObject(o.obj, tx.setOf)
		switch o.verb {
		case opAdd:
			out.Add(obj)
		case opFlush:
			out.Flush(obj)
		case opDelete:
			out.Delete(obj)
		}
	}
	flushBatches()
	return out
}

// elementsPerCommand bounds a batched "add element" command.
const elementsPerCommand = 2000

// batched is one element that nft reads as many: "add element M { k1 : v1, k2 : v2 }".
func batched(set string, isMap bool, elements []*Element) *knftables.Element {
	var b strings.Builder
	last := elements[len(elements)-1]
	for _, e := range elements[:len(elements)-1] {
		writeElement(&b, e, isMap)
		b.WriteString(", ")
	}
	b.WriteString(strings.Join(last.Key, " . "))
	out := &knftables.Element{Key: []string{b.String()}, Value: last.Value}
	if last.Comment != "" {
		out.Comment = ptr.To(last.Comment)
	}
	if isMap {
		out.Map = set
	} else {
		out.Set = set
	}
	return out
}

func isMap(set string, setOf func(string) *Set) bool {
	s := setOf(set)
	return s != nil && s.IsMap()
}

func knftObject(obj any, setOf func(string) *Set) knftables.Object {
	switch o := obj.(type) {
	case tableObj:
		t := &knftables.Table{}
		if o.comment != "" {
			t.Comment = ptr.To(o.comment)
		}
		return t
	case *Chain:
		c := &knftables.Chain{Name: o.Name}
		if o.Hook != nil {
			c.Type = ptr.To(knftables.BaseChainType(o.Hook.Type))
			c.Hook = ptr.To(knftables.BaseChainHook(o.Hook.Hook))
			c.Priority = ptr.To(knftables.BaseChainPriority(o.Hook.Priority))
		}
		if o.Comment != "" {
			c.Comment = ptr.To(o.Comment)
		}
		return c
	case ruleObj:
		r := &knftables.Rule{Chain: o.chain, Rule: o.rule.Text}
		if o.rule.Comment != "" {
			r.Comment = ptr.To(o.rule.Comment)
		}
		return r
	case *Set:
		var flags []knftables.SetFlag
		for _, f := range o.Flags {
			flags = append(flags, knftables.SetFlag(f))
		}
		var timeout *time.Duration
		if o.Timeout > 0 {
			timeout = ptr.To(o.Timeout)
		}
		var comment *string
		if o.Comment != "" {
			comment = ptr.To(o.Comment)
		}
		if o.IsMap() {
			return &knftables.Map{Name: o.Name, Type: o.Type, TypeOf: o.TypeOf, Flags: flags, Timeout: timeout, Comment: comment}
		}
		return &knftables.Set{Name: o.Name, Type: o.Type, TypeOf: o.TypeOf, Flags: flags, Timeout: timeout, Comment: comment}
	case *Element:
		e := &knftables.Element{Key: o.Key, Value: o.Value}
		if o.Comment != "" {
			e.Comment = ptr.To(o.Comment)
		}
		if isMap(o.Set, setOf) || len(o.Value) > 0 {
			e.Map = o.Set
		} else {
			e.Set = o.Set
		}
		return e
	}
	panic(fmt.Sprintf("nft: no such object %T", obj))
}
