package proxy

import (
	"slices"
	"strings"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// Below the fixed skeleton (base chains, the lookup maps and their rules), the table is made
// of three kinds of object: chains, dynamic sets (ClientIP affinity) and elements of the
// skeleton's sets and maps. Each object is put there by one or more owners (a Service, or the
// cluster's ServiceCIDRs); the table keeps, per object, what the kernel holds now, so a sync
// sends only the objects whose owners changed.

// objectID names an object: its kind and its name (for an element, its set and key).
type objectID struct {
	kind objectKind
	name string
}

type objectKind uint8

const (
	chainObject objectKind = iota
	setObject
	elementObject
)

// contribution is everything one owner puts in the table.
type contribution struct {
	chains   map[string][]string
	sets     map[string]*knftables.Set
	elements map[string]*knftables.Element
	// dispatch gives, for each pick set among sets, the rule that leads to its chain.
	dispatch map[string]dispatchRule
}

func newContribution() *contribution {
	return &contribution{chains: map[string][]string{}, sets: map[string]*knftables.Set{}, elements: map[string]*knftables.Element{}}
}

// chain adds rules to a chain of the contribution, creating it on first use.
func (c *contribution) chain(name string, rules ...string) {
	c.chains[name] = append(c.chains[name], rules...)
}

// sharedChain puts a chain that many owners (and many ports of one owner) use, always with
// the same rules, into the contribution.
func (c *contribution) sharedChain(name string, rules ...string) {
	c.chains[name] = rules
}

// element puts a set element (value nil) or a map element into the contribution.
func (c *contribution) element(set string, key []string, value ...string) {
	e := &knftables.Element{Key: key, Value: value}
	if value == nil {
		e.Set = set
	} else {
		e.Map = set
	}
	c.elements[elementName(e)] = e
}

func (c *contribution) ids() []objectID {
	ids := make([]objectID, 0, len(c.chains)+len(c.sets)+len(c.elements))
	for n := range c.chains {
		ids = append(ids, objectID{chainObject, n})
	}
	for n := range c.sets {
		ids = append(ids, objectID{setObject, n})
	}
	for n := range c.elements {
		ids = append(ids, objectID{elementObject, n})
	}
	return ids
}

func elementName(e *knftables.Element) string {
	return e.Set + e.Map + "\x00" + strings.Join(e.Key, " . ")
}

// table is the proxy's view of its nftables table: what each owner wants, and what the kernel
// holds. Not safe for concurrent use; the proxy's single sync worker owns it.
type table struct {
	owners map[string]*contribution
	// holders names, per object, the first (by name) of the owners that want it, whose
	// version wins when two disagree (two Services claiming one external IP and port); the
	// rare others wait in sharers, sorted. Most objects have one owner: a string, not a slice,
	// saves an allocation per object on a full sync of hundreds of thousands.
	holders map[objectID]string
	sharers map[objectID][]string
	// kernel is what the last successful transaction left in the kernel.
	kernel map[objectID]any
	// touched are the objects whose wanted version may differ from the kernel's.
	touched map[objectID]bool
	// sizes counts the kernel's objects by kind, for the metrics.
	sizes [3]int
	// dispatch is the rule of each pick set in use; settle writes them into the dispatch
	// chains when they changed.
	dispatch        map[string]dispatchRule
	dispatchChanged bool
}

func newTable() *table {
	return &table{owners: map[string]*contribution{}, holders: map[objectID]string{}, sharers: map[objectID][]string{}, kernel: map[objectID]any{}, touched: map[objectID]bool{},
		dispatch: map[string]dispatchRule{}, dispatchChanged: true}
}

// set replaces what owner wants (nil: nothing, the owner is gone).
func (t *table) set(owner string, c *contribution) {
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

func (t *table) addHolder(id objectID, owner string) {
	first, ok := t.holders[id]
	switch {
	case !ok:
		t.holders[id] = owner
		t.noteDispatch(id, owner, true)
		return
	case owner < first:
		t.holders[id], owner = owner, first
	}
	rest := t.sharers[id]
	i, _ := slices.BinarySearch(rest, owner)
	t.sharers[id] = slices.Insert(rest, i, owner)
}

func (t *table) dropHolder(id objectID, owner string) {
	rest := t.sharers[id]
	if t.holders[id] == owner {
		if len(rest) == 0 {
			delete(t.holders, id)
			t.noteDispatch(id, owner, false)
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
func (t *table) wanted(id objectID) any {
	h, ok := t.holders[id]
	if !ok {
		return nil
	}
	c := t.owners[h]
	switch id.kind {
	case chainObject:
		return c.chains[id.name]
	case setObject:
		return c.sets[id.name]
	default:
		return c.elements[id.name]
	}
}

func sameObject(a, b any) bool {
	switch a := a.(type) {
	case []string:
		b, ok := b.([]string)
		return ok && slices.Equal(a, b)
	case *knftables.Set:
		b, ok := b.(*knftables.Set)
		return ok && a.Type == b.Type && ptr.Equal(a.Timeout, b.Timeout)
	case *knftables.Element:
		b, ok := b.(*knftables.Element)
		return ok && slices.Equal(a.Value, b.Value)
	}
	return a == nil && b == nil
}

// pending is what a partial sync sends: the objects to add, rewrite and remove, each sorted
// by name so that a transaction is reproducible (golden tests, and readable when it fails).
type pending struct{ added, changed, removed []objectID }

func (p pending) empty() bool { return len(p.added)+len(p.changed)+len(p.removed) == 0 }

// pending sorts the touched objects into what changed, forgetting those that did not.
func (t *table) pending() pending {
	t.settle()
	var p pending
	for id := range t.touched {
		old, now := t.kernel[id], t.wanted(id)
		switch {
		case old == nil && now == nil, sameObject(old, now):
			delete(t.touched, id)
		case old == nil:
			p.added = append(p.added, id)
		case now == nil:
			p.removed = append(p.removed, id)
		default:
			p.changed = append(p.changed, id)
		}
	}
	for _, ids := range [][]objectID{p.added, p.changed, p.removed} {
		slices.SortFunc(ids, func(a, b objectID) int { return strings.Compare(a.name, b.name) })
	}
	return p
}

// elementsOnly says whether p changes elements and nothing else: a swap an ElementWriter can
// send.
func (p pending) elementsOnly() bool {
	for _, ids := range [][]objectID{p.added, p.changed, p.removed} {
		for _, id := range ids {
			if id.kind != elementObject {
				return false
			}
		}
	}
	return true
}

// swaps is p's elements: those to delete (the kernel's versions of the ones that changed or
// went) and those to add.
func (t *table) swaps(p pending) (dels, adds []*knftables.Element) {
	for _, ids := range [][]objectID{p.changed, p.removed} {
		for _, id := range ids {
			if id.kind == elementObject {
				old := t.kernel[id].(*knftables.Element)
				dels = append(dels, &knftables.Element{Set: old.Set, Map: old.Map, Key: old.Key})
			}
		}
	}
	for _, ids := range [][]objectID{p.added, p.changed} {
		for _, id := range ids {
			if id.kind == elementObject {
				adds = append(adds, t.wanted(id).(*knftables.Element))
			}
		}
	}
	return dels, adds
}

// setTypes tells an ElementWriter the type of the skeleton's sets and maps and of the table's
// own sets; sets with flags are left to nft.
func setTypes(sk *skeleton, t *table) SetTypes {
	return func(name string) (string, string, bool) {
		if s, ok := t.wanted(objectID{setObject, name}).(*knftables.Set); ok {
			return s.Type, s.TypeOf, len(s.Flags) == 0
		}
		return sk.typeOf(name)
	}
}

// writePending writes p in an order nftables accepts inside one transaction: declare new
// chains and sets, rewrite chains, swap elements, then empty and delete what went away
// (nothing refers to it by then).
func (t *table) writePending(tx *knftables.Transaction, p pending) {
	added, changed, removed := p.added, p.changed, p.removed
	for _, id := range added {
		switch id.kind {
		case chainObject:
			tx.Add(&knftables.Chain{Name: id.name})
		case setObject:
			tx.Add(t.wanted(id).(*knftables.Set))
		}
	}
	for _, id := range changed {
		if id.kind == chainObject {
			tx.Flush(&knftables.Chain{Name: id.name})
		}
	}
	for _, ids := range [][]objectID{added, changed} {
		for _, id := range ids {
			if id.kind == chainObject {
				for _, r := range t.wanted(id).([]string) {
					tx.Add(&knftables.Rule{Chain: id.name, Rule: r})
				}
			}
		}
	}
	dels, adds := t.swaps(p)
	for _, e := range dels {
		tx.Delete(e)
	}
	for _, e := range adds {
		tx.Add(e)
	}
	for _, id := range removed {
		if id.kind == chainObject {
			tx.Flush(&knftables.Chain{Name: id.name})
		}
	}
	for _, id := range removed {
		switch id.kind {
		case chainObject:
			tx.Delete(&knftables.Chain{Name: id.name})
		case setObject:
			tx.Delete(&knftables.Set{Name: id.name})
		}
	}
}

// declareAll adds every wanted chain, emptied, and every wanted set to tx, and notes their
// names in keep; fillAll then adds the chains' rules and the elements. Between the two, the
// skeleton's rules go in: they refer to nothing of ours, ours refer to theirs.
func (t *table) declareAll(tx *knftables.Transaction, keep map[string]bool) {
	t.settle()
	for id := range t.holders {
		switch id.kind {
		case chainObject:
			tx.Add(&knftables.Chain{Name: id.name})
			tx.Flush(&knftables.Chain{Name: id.name})
			keep[id.name] = true
		case setObject:
			set := t.wanted(id).(*knftables.Set)
			tx.Add(set)
			// A pick set holds only what the table writes: emptied, and filled again below,
			// like the skeleton's. An affinity set (dynamic) keeps what packets put there.
			if len(set.Flags) == 0 {
				tx.Flush(&knftables.Set{Name: id.name})
			}
			keep[id.name] = true
		}
	}
}

func (t *table) fillAll(tx *knftables.Transaction, batch bool) {
	// In map order: sorting a full sync's hundreds of thousands of objects would cost more
	// than the rest of building it, and nftables does not care.
	bySet := map[string][]*knftables.Element{}
	for id := range t.holders {
		switch id.kind {
		case chainObject:
			for _, r := range t.wanted(id).([]string) {
				tx.Add(&knftables.Rule{Chain: id.name, Rule: r})
			}
		case elementObject:
			e := t.wanted(id).(*knftables.Element)
			if !batch {
				tx.Add(e)
				continue
			}
			bySet[e.Set+e.Map] = append(bySet[e.Set+e.Map], e)
		}
	}
	for _, elements := range bySet {
		for len(elements) > 0 {
			n := min(len(elements), elementsPerCommand)
			tx.Add(batched(elements[:n]))
			elements = elements[n:]
		}
	}
}

// elementsPerCommand bounds a batched "add element" command.
const elementsPerCommand = 2000

// batched is one element that nftables reads as many: "add element M { k1 : v1, k2 : v2 }".
// nft parses a command of thousands of elements about twice as fast as as many commands of
// one, which halves a large full sync. Only for the kernel: knftables.Fake would take the
// batch for one element.
func batched(elements []*knftables.Element) *knftables.Element {
	var b strings.Builder
	last := elements[len(elements)-1]
	for _, e := range elements[:len(elements)-1] {
		b.WriteString(strings.Join(e.Key, " . "))
		if e.Map != "" {
			b.WriteString(" : ")
			b.WriteString(strings.Join(e.Value, " . "))
		}
		b.WriteString(", ")
	}
	b.WriteString(strings.Join(last.Key, " . "))
	return &knftables.Element{Set: last.Set, Map: last.Map, Key: []string{b.String()}, Value: last.Value}
}

// commit records that the kernel now holds the wanted objects (after a partial sync's
// transaction or element swap, or writeFull's transaction, succeeded); all says the table was
// written whole.
func (t *table) commit(all bool) {
	if all {
		clear(t.kernel)
		t.sizes = [3]int{}
		for id := range t.holders {
			t.kernel[id] = t.wanted(id)
			t.sizes[id.kind]++
		}
		t.touched = map[objectID]bool{} // not clear(): a map keeps its size, and a full sync made it huge
		return
	}
	for id := range t.touched {
		_, had := t.kernel[id]
		if now := t.wanted(id); now != nil {
			t.kernel[id] = now
			if !had {
				t.sizes[id.kind]++
			}
		} else if had {
			delete(t.kernel, id)
			t.sizes[id.kind]--
		}
	}
	t.touched = map[objectID]bool{} // not clear(): a map keeps its size, and a full sync made it huge
}

// counts are the table's size by kind, for the metrics.
func (t *table) counts() (chains, sets, elements int) {
	return t.sizes[chainObject], t.sizes[setObject], t.sizes[elementObject]
}
