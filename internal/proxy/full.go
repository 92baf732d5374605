package proxy

import (
	"context"
	"fmt"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// present is what the kernel's table holds, by name, listed before a full sync so the sync
// can rewrite it in place.
type present struct {
	chains, sets, maps map[string]bool
}

// listPresent lists the table's chains, sets and maps (all empty when there is no table yet).
func listPresent(ctx context.Context, nft knftables.Interface) (present, error) {
	have := present{chains: map[string]bool{}, sets: map[string]bool{}, maps: map[string]bool{}}
	for kind, into := range map[string]map[string]bool{"chains": have.chains, "sets": have.sets, "maps": have.maps} {
		names, err := nft.List(ctx, kind)
		if knftables.IsNotFound(err) {
			continue
		}
		if err != nil {
			return have, fmt.Errorf("list the %s of table inet %s: %w", kind, Table, err)
		}
		for _, n := range names {
			into[n] = true
		}
	}
	return have, nil
}

// writeFull puts the whole table into tx. In place: everything wanted is added (nothing
// happens where it exists), emptied and filled again, and what is no longer wanted is deleted;
// affinity sets that stay keep their clients. Fresh: the table is deleted and made anew in the
// same transaction, for a table whose shape cannot be trusted (after an in-place sync failed).
// Either way no packet sees half a table, and connections set up keep their translation in
// conntrack.
//
// batch writes the elements of a set or map in a few commands (see batched).
func writeFull(tx *knftables.Transaction, sk *skeleton, t *table, have present, fresh, batch bool) {
	comment := ptr.To("weft: the service proxy")
	tx.Add(&knftables.Table{Comment: comment})
	if fresh {
		tx.Delete(&knftables.Table{})
		tx.Add(&knftables.Table{Comment: comment})
		have = present{}
	}
	keep := map[string]bool{}
	for _, c := range sk.chains {
		tx.Add(c)
		tx.Flush(&knftables.Chain{Name: c.Name})
		keep[c.Name] = true
	}
	for _, s := range sk.sets {
		tx.Add(s)
		tx.Flush(&knftables.Set{Name: s.Name})
		keep[s.Name] = true
	}
	for _, m := range sk.maps {
		tx.Add(m)
		tx.Flush(&knftables.Map{Name: m.Name})
		keep[m.Name] = true
	}
	t.declareAll(tx, keep)
	for _, r := range sk.rules {
		tx.Add(r)
	}
	t.fillAll(tx, batch)
	for name := range have.chains {
		if !keep[name] {
			tx.Flush(&knftables.Chain{Name: name})
		}
	}
	// Chains first: only they refer to sets and maps.
	for _, gone := range []struct {
		names map[string]bool
		obj   func(string) knftables.Object
	}{
		{have.chains, func(n string) knftables.Object { return &knftables.Chain{Name: n} }},
		{have.sets, func(n string) knftables.Object { return &knftables.Set{Name: n} }},
		{have.maps, func(n string) knftables.Object { return &knftables.Map{Name: n} }},
	} {
		for name := range gone.names {
			if !keep[name] {
				tx.Delete(gone.obj(name))
			}
		}
	}
}
