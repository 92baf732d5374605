package nft

import (
	"context"

	"sigs.k8s.io/knftables"
)

// Elements are the elements of set as the kernel holds them now, whoever put them there:
// none, and no error, without the table or the set. A feature reads them to undo what a
// previous run did outside the table by the same list (the DNS addresses it put on lo); a sync
// never needs them, as the Table knows what it wrote. Read through nft, which prints each
// element in the set's own syntax ("10.43.0.10", "10.0.0.0/8").
func (t *Table) Elements(ctx context.Context, set string) ([]*Element, error) {
	return t.kernel.elements(ctx, set)
}

func (k *realKernel) elements(ctx context.Context, set string) ([]*Element, error) {
	var els []*knftables.Element
	err := k.inNS(func() (err error) {
		els, err = k.nft.ListElements(ctx, "set", set)
		return err
	})
	return fromKnftables(set, els, err)
}

func (f *Fake) elements(ctx context.Context, set string) ([]*Element, error) {
	els, err := f.Fake.ListElements(ctx, "set", set)
	return fromKnftables(set, els, err)
}

func fromKnftables(set string, els []*knftables.Element, err error) ([]*Element, error) {
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]*Element, 0, len(els))
	for _, e := range els {
		out = append(out, &Element{Set: set, Key: e.Key, Value: e.Value})
	}
	return out, nil
}
