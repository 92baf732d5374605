package nft

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Table is one nftables table as its feature wants it, by owner, and as the kernel holds it
// after the last transaction. Not safe for concurrent use: a feature's sync worker owns it.
type Table struct {
	kernel  Kernel
	comment string
	owners  map[string]*Contents
	// holders names, per object, the first (by name) of the owners that want it, whose
	// version wins when two disagree; the rare others wait in sharers, sorted. Most objects
	// have one owner: a string, not a slice, saves an allocation per object on a full sync of
	// hundreds of thousands.
	holders map[objectID]string
	sharers map[objectID][]string
	// written is what the last successful transaction left in the kernel.
	written map[objectID]any
	// touched are the objects whose wanted version may differ from the written one.
	touched map[objectID]bool
	sizes   [3]int
	// needFull makes the next sync a full one (the first, and after any failure); fresh makes
	// it delete and remake the table, not rewrite it in place (after a full one failed).
	needFull, fresh bool
	// gen is the ruleset's generation when the kernel last held what was written (gen.go).
	gen      uint32
	genKnown bool
}

// NewTable is a table written through k; comment says what the table is for.
func NewTable(k Kernel, comment string) *Table {
	return &Table{kernel: k, comment: comment, owners: map[string]*Contents{}, holders: map[objectID]string{},
		sharers: map[objectID][]string{}, written: map[objectID]any{}, touched: map[objectID]bool{}, needFull: true}
}

// Set replaces what owner wants (nil: nothing, the owner is gone). c must not change
// afterwards: the table keeps it as the owner's version until the next Set.
func (t *Table) Set(owner string, c *Contents) {
	if old := t.owners[owner]; old != nil {
		for _, id := range old.ids() {
			t.dropHolder(id, owner)
			t.touched[id] = true
		}
	}
	delete(t.owners, owner)
	if c == nil {
		return
	}
	t.owners[owner] = c
	for _, id := range c.ids() {
		t.addHolder(id, owner)
		t.touched[id] = true
	}
}

// Owner is what owner wants now (nil: nothing).
func (t *Table) Owner(owner string) *Contents { return t.owners[owner] }

// Counts are the chains, sets and maps, and elements the kernel holds after the last sync.
func (t *Table) Counts() (chains, sets, elements int) {
	return t.sizes[chainObject], t.sizes[setObject], t.sizes[elementObject]
}

func (t *Table) addHolder(id objectID, owner string) {
	first, ok := t.holders[id]
	switch {
	case !ok:
		t.holders[id] = owner
		return
	case owner < first:
		t.holders[id], owner = owner, first
	}
	rest := t.sharers[id]
	i, _ := slices.BinarySearch(rest, owner)
	t.sharers[id] = slices.Insert(rest, i, owner)
}

func (t *Table) dropHolder(id objectID, owner string) {
	rest := t.sharers[id]
	if t.holders[id] == owner {
		if len(rest) == 0 {
			delete(t.holders, id)
			return
		}
		t.holders[id], rest = rest[0], rest[1:]
	} else {
		rest = slices.DeleteFunc(rest, func(o string) bool { return o == owner })
	}
	if len(rest) == 0 {
		delete(t.sharers, id)
	} else {
		t.sharers[id] = rest
	}
}

// wanted is the version of an object its first holder wants, or nil.
func (t *Table) wanted(id objectID) any {
	h, ok := t.holders[id]
	if !ok {
		return nil
	}
	c := t.owners[h]
	switch id.kind {
	case chainObject:
		return c.Chains[id.name]
	case setObject:
		return c.Sets[id.name]
	default:
		return c.Elements[id.name]
	}
}

func same(a, b any) bool {
	switch a := a.(type) {
	case *Chain:
		b, ok := b.(*Chain)
		return ok && sameChain(a, b)
	case *Set:
		b, ok := b.(*Set)
		return ok && sameSet(a, b)
	case *Element:
		b, ok := b.(*Element)
		return ok && slices.Equal(a.Value, b.Value) && a.Comment == b.Comment
	}
	return a == nil && b == nil
}

// Sync brings the kernel's table in line with what the owners want, in one transaction, and
// returns it (nil when nothing had to be sent). Partial (full false), it sends only what
// changed since the last sync; full, it lists the table's objects and rewrites it whole in
// place, deleting what nobody wants (a periodic repair of what someone else changed). The
// first sync, and the one after any failure, is full whatever full says; after a failed full
// sync, the next one deletes and remakes the table in the same transaction.
func (t *Table) Sync(ctx context.Context, full bool) (*Tx, error) {
	full = full || t.needFull
	if !full {
		p := t.pending()
		if p.empty() {
			return nil, nil
		}
		if !p.declarationsChanged {
			tx := t.newTx()
			t.writePending(tx, p)
			if err := t.kernel.Run(ctx, tx); err != nil {
				t.needFull = true
				return nil, err
			}
			t.commit(false)
			t.noteGeneration()
			return tx, nil
		}
		// A set's declaration changed: nftables cannot change one in place.
		t.fresh = true
	}
	if !t.fresh {
		switch same, err := t.kernelHolds(ctx); {
		case err != nil:
			t.needFull = true
			return nil, fmt.Errorf("compare table %s: %w", t.kernel.Table(), err)
		case same && t.needFull:
			// The kernel already holds what is wanted (an agent restarted): nothing to write.
			t.needFull = false
			t.commit(true)
			t.noteGeneration()
			return nil, nil
		case same:
			t.noteGeneration()
			// Nobody touched the table: what changed since the last sync is all there is to send.
			return t.Sync(ctx, false)
		}
	}
	var have Names
	if !t.fresh {
		var err error
		if have, err = t.kernel.List(ctx); err != nil {
			t.needFull = true
			return nil, fmt.Errorf("list table %s: %w", t.kernel.Table(), err)
		}
	}
	tx := t.newTx()
	t.writeFull(tx, have)
	if err := t.kernel.Run(ctx, tx); err != nil {
		t.needFull, t.fresh = true, true
		return nil, err
	}
	t.needFull, t.fresh = false, false
	t.commit(true)
	t.noteGeneration()
	return tx, nil
}

// Delete removes the whole table from the kernel (for a feature turned off); a table that is
// not there is no error. What the owners want stays, and the next sync is a full one.
func (t *Table) Delete(ctx context.Context) error {
	tx := t.newTx()
	tx.add(opDelete, tableObj{})
	if err := t.kernel.Run(ctx, tx); err != nil && !IsNotFound(err) {
		return err
	}
	clear(t.written)
	t.sizes = [3]int{}
	t.needFull = true
	return nil
}

// kernelHolds compares the kernel's table with what was written last, or, on a first sync
// or after a failure (when what was written may not be what the kernel holds), with what is
// wanted now.
func (t *Table) kernelHolds(ctx context.Context) (bool, error) {
	if !t.needFull {
		if gen, ok := t.kernel.generation(); ok && t.genKnown && gen == t.gen {
			return true, nil
		}
		return t.kernel.holds(ctx, t.snapshot)
	}
	return t.kernel.holds(ctx, t.wantedSnapshot)
}

// noteGeneration records the ruleset's generation once the kernel holds what was written.
func (t *Table) noteGeneration() {
	t.gen, t.genKnown = t.kernel.generation()
}

// pendingSet is what a partial sync sends: the objects to add, rewrite and remove, each
// sorted by name so that a transaction is reproducible (golden tests, and readable when it
// fails).
type pendingSet struct {
	added, changed, removed []objectID
	// declarationsChanged: a set or a base chain's hook changed, which needs a table rebuilt.
	declarationsChanged bool
}

func (p pendingSet) empty() bool { return len(p.added)+len(p.changed)+len(p.removed) == 0 }

// pending sorts the touched objects into what changed, forgetting those that did not.
func (t *Table) pending() pendingSet {
	var p pendingSet
	for id := range t.touched {
		old, now := t.written[id], t.wanted(id)
		switch {
		case old == nil && now == nil, same(old, now):
			delete(t.touched, id)
		case old == nil:
			p.added = append(p.added, id)
		case now == nil:
			p.removed = append(p.removed, id)
		default:
			p.changed = append(p.changed, id)
			switch o := old.(type) {
			case *Set:
				p.declarationsChanged = true
			case *Chain:
				if !sameHook(o.Hook, now.(*Chain).Hook) {
					p.declarationsChanged = true
				}
			}
		}
	}
	for _, ids := range [][]objectID{p.added, p.changed, p.removed} {
		slices.SortFunc(ids, func(a, b objectID) int { return strings.Compare(a.name, b.name) })
	}
	return p
}

// commit records that the kernel now holds the wanted objects; all says the table was
// written whole.
func (t *Table) commit(all bool) {
	if all {
		clear(t.written)
		t.sizes = [3]int{}
		for id := range t.holders {
			t.written[id] = t.wanted(id)
			t.sizes[id.kind]++
		}
		t.touched = map[objectID]bool{} // not clear(): a map keeps its size, and a full sync made it huge
		return
	}
	for id := range t.touched {
		_, had := t.written[id]
		if now := t.wanted(id); now != nil {
			t.written[id] = now
			if !had {
				t.sizes[id.kind]++
			}
		} else if had {
			delete(t.written, id)
			t.sizes[id.kind]--
		}
	}
	t.touched = map[objectID]bool{}
}

// setOf is the declaration of a set the table wants, for a Kernel that encodes elements itself.
func (t *Table) setOf(name string) *Set {
	s, _ := t.wanted(objectID{setObject, name}).(*Set)
	return s
}
