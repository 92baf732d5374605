package nft

import (
	"slices"

	"github.com/google/nftables"
)

// list names the table's chains, sets and maps over netlink. nft 1.0.6 reads every element of
// every set to answer even that (about 0.75 s per listing with 30k services, three listings per
// full sync); netlink asks for the names alone.
func (w *netlinkElements) list() (Names, error) {
	have := Names{Chains: map[string]bool{}, Sets: map[string]bool{}, Maps: map[string]bool{}}
	if err := w.connect(); err != nil {
		return have, err
	}
	chains, err := w.conn.ListChainsOfTableFamily(w.table.Family)
	if err != nil {
		return have, w.reset(err)
	}
	for _, c := range chains {
		if c.Table != nil && c.Table.Name == w.table.Name {
			have.Chains[c.Name] = true
		}
	}
	found, err := w.hasTable()
	if err != nil || !found {
		have.Absent = err == nil
		return have, err // no table yet: asking for its sets would be an error
	}
	sets, err := w.conn.GetSets(w.table)
	if err != nil {
		return have, w.reset(err)
	}
	for _, s := range sets {
		switch {
		case s.Anonymous: // a rule's inline set, "{ 10.0.0.0/8, ... }": not ours to delete
		case s.IsMap:
			have.Maps[s.Name] = true
		default:
			have.Sets[s.Name] = true
		}
	}
	return have, nil
}

// hasTable says whether the table is there.
func (w *netlinkElements) hasTable() (bool, error) {
	tables, err := w.conn.ListTablesOfFamily(w.table.Family)
	if err != nil {
		return false, w.reset(err)
	}
	return slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == w.table.Name }), nil
}
