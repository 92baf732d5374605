package proxy

import (
	"context"

	"github.com/google/nftables"
)

// nameLister lists the table's chains, sets and maps by name, as a full sync in place needs
// them to know what to delete. nft 1.0.6 reads every element of every set to answer even that
// (about 0.75 s per listing with 30k services, three listings per full sync); netlink asks
// for the names alone. netlinkElements is one.
type nameLister interface {
	listNames() (present, error)
}

func (w *netlinkElements) listNames() (present, error) {
	have := present{chains: map[string]bool{}, sets: map[string]bool{}, maps: map[string]bool{}}
	if err := w.connect(); err != nil {
		return have, err
	}
	chains, err := w.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return have, w.reset(err)
	}
	for _, c := range chains {
		if c.Table != nil && c.Table.Name == Table {
			have.chains[c.Name] = true
		}
	}
	// The table always holds the skeleton's chains: without any, it is not there at all,
	// and asking for its sets would be an error.
	if len(have.chains) == 0 {
		return have, nil
	}
	sets, err := w.conn.GetSets(w.table)
	if err != nil {
		return have, w.reset(err)
	}
	for _, s := range sets {
		switch {
		case s.Anonymous: // a rule's inline set, "{ 10.0.0.0/8, ... }": not ours to delete
		case s.IsMap:
			have.maps[s.Name] = true
		default:
			have.sets[s.Name] = true
		}
	}
	return have, nil
}

// listPresent lists the table's objects by name, over netlink when the proxy has it.
func (p *Proxy) listPresent(ctx context.Context) (present, error) {
	if l, ok := p.opts.Elements.(nameLister); ok {
		return l.listNames()
	}
	return listPresent(ctx, p.nft)
}
