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
	owners  map[string]*owner
	// holders is, per object, the first (by name) of the owners that want it, whose version
	// wins when two disagree; the others wait in sharers. Most objects have one owner: a
	// pointer, not a slice, saves an allocation per object on a full sync of hundreds of
	// thousands. A few have thousands (the pick chain every Service with three endpoints
	// wants): a set, not a sorted slice, keeps adding them linear, and only the holder's
	// leaving looks for the next first.
	holders map[objectID]*owner
	sharers map[objectID]map[*owner]struct{}
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
	return &Table{kernel: k, comment: comment, owners: map[string]*owner{}, holders: map[objectID]*owner{},
		sharers: map[objectID]map[*owner]struct{}{}, written: map[objectID]any{}, touched: map[objectID]bool{}, needFull: true}
}

// owner is one owner's name and what it wants now. Objects point at their holder's record,
// which stays while the owner wants anything: finding an object's version is one lookup in
// the owner's small maps, not another in a map of every owner first.
type owner struct {
	name     string
	contents *Contents
}

// Set replaces what owner wants (nil: nothing, the owner is gone). c must not change
// afterwards: the table keeps it as the owner's version until the next Set.
func (t *Table) Set(name string, c *Contents) {
	o := t.owners[name]
	if o != nil {
		for _, id := range o.contents.ids() {
			t.dropHolder(id, o)
			t.touch(id)
		}
	}
	if c == nil {
		delete(t.owners, name)
		return
	}
	if o == nil {
		o = &owner{name: name}
		t.owners[name] = o
	}
	o.contents = c
	for _, id := range c.ids() {
		t.addHolder(id, o)
		t.touch(id)
	}
}

// SetAll makes want the table's whole set of owners: each one Set, every other owner
// dropped. For a feature that computes everything it wants on each sync.
func (t *Table) SetAll(want map[string]*Contents) {
	for name := range t.owners {
		if want[name] == nil {
			t.Set(name, nil)
		}
	}
	for name, c := range want {
		t.Set(name, c)
	}
}

// touch notes that id may have changed, for the next partial sync. When the next sync is a
// full one, nobody asks: a node's first sync of 80k elements skips a map as big.
func (t *Table) touch(id objectID) {
	if !t.needFull {
		t.touched[id] = true
	}
}

// Owner is what owner wants now (nil: nothing).
func (t *Table) Owner(name string) *Contents {
	if o := t.owners[name]; o != nil {
		return o.contents
	}
	return nil
}

// Counts are the chains, sets and maps, and elements the kernel holds after the last sync.
func (t *Table) Counts() (chains, sets, elements int) {
	return t.sizes[chainObject], t.sizes[setObject], t.sizes[elementObject]
}

func (t *Table) addHolder(id objectID, o *owner) {
	first, ok := t.holders[id]
	switch {
	case !ok:
		t.holders[id] = o
		return
	case o.name < first.name:
		t.holders[id], o = o, first
	}
	rest := t.sharers[id]
	if rest == nil {
		rest = map[*owner]struct{}{}
		t.sharers[id] = rest
	}
	rest[o] = struct{}{}
}

func (t *Table) dropHolder(id objectID, o *owner) {
	rest := t.sharers[id]
	if t.holders[id] != o {
		delete(rest, o)
	} else if len(rest) == 0 {
		delete(t.holders, id)
	} else {
		var next *owner
		for r := range rest {
			if next == nil || r.name < next.name {
				next = r
			}
		}
		t.holders[id] = next
		delete(rest, next)
	}
	if rest != nil && len(rest) == 0 {
		delete(t.sharers, id)
	}
}

// wanted is the version of an object its first holder wants, or nil.
func (t *Table) wanted(id objectID) any {
	h, ok := t.holders[id]
	if !ok {
		return nil
	}
	return t.versionOf(id, h)
}

// versionOf is the version of an object that o wants.
func (t *Table) versionOf(id objectID, o *owner) any {
	c := o.contents
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
		if len(t.written) == 0 {
			t.written = make(map[objectID]any, len(t.holders)) // sized once, not grown
		} else {
			clear(t.written)
		}
		t.sizes = [3]int{}
		for id, owner := range t.holders {
			t.written[id] = t.versionOf(id, owner)
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
