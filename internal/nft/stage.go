package nft

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/nftables"
)

// A table's first full sync is mostly elements: at 10k Services the proxy's is 80k elements
// and about forty chains and rules. nft parses the elements for a second and grows to 200 MiB
// doing it; netlink takes them in a fraction of that. So a table that is not in the kernel yet
// is written in three steps: through nft, the table, its sets and maps, its regular chains and
// their rules; over netlink, the elements, in batches; through nft, the base chains and their
// rules. Packets meet a table only through its base chains, so they see none of it until all
// of it is there, as with one transaction. A step that fails leaves a table the next sync
// deletes and writes again in one transaction (Table.Sync's fresh).

const (
	// stagedPerMessage bytes of elements (roughly, and at most stagedElements of them) go in
	// one netlink message: its element list is one netlink attribute, whose length is 16 bits,
	// and an element with a comment and a range takes 300 bytes.
	stagedPerMessage = 48 << 10
	stagedElements   = 256
	// stagedPerTx bytes of elements (roughly) go in one transaction: the kernel takes a batch
	// in one sendmsg, which must fit the socket's send buffer (208 KiB by default).
	stagedPerTx = 128 << 10
)

// runStaged writes tx, the whole of a table not in the kernel, in the three steps above.
func (k *realKernel) runStaged(ctx context.Context, tx *Tx) error {
	base := map[string]bool{}
	for _, o := range tx.ops {
		if c, ok := o.obj.(*Chain); ok && c.Hook != nil {
			base[c.Name] = true
		}
	}
	first, last := &Tx{setOf: tx.setOf}, &Tx{setOf: tx.setOf}
	elements := map[string][]nftables.SetElement{} // by set: a full sync lists them in map order
	for _, o := range tx.ops {
		switch obj := o.obj.(type) {
		case *Chain:
			if base[obj.Name] {
				last.add(o.verb, obj)
				continue
			}
		case ruleObj:
			if base[obj.chain] {
				last.add(o.verb, obj)
				continue
			}
		case *Element:
			s := tx.setOf(obj.Set)
			if !writable(s) {
				break
			}
			se, err := k.nl.encode(obj, s, true)
			switch {
			case err == nil:
				elements[obj.Set] = append(elements[obj.Set], se...)
				continue
			case !errors.Is(err, errNeedsNFT):
				return fmt.Errorf("table %s: %w", k.Table(), err)
			}
		}
		first.add(o.verb, o.obj)
	}
	if err := k.inNS(func() error { return k.nft.Run(ctx, knftTx(k.nft, first, true)) }); err != nil {
		return fmt.Errorf("table %s: %w", k.Table(), err)
	}
	if err := k.nl.addInBatches(elements); err != nil {
		return fmt.Errorf("table %s: %w", k.Table(), err)
	}
	if err := k.inNS(func() error { return k.nft.Run(ctx, knftTx(k.nft, last, true)) }); err != nil {
		return fmt.Errorf("table %s: %w", k.Table(), err)
	}
	return nil
}

// addInBatches adds elements, by set, over netlink, in as many messages and transactions as
// their size needs. A range's start and end (intervals.go) stay in one transaction.
func (w *netlinkElements) addInBatches(elements map[string][]nftables.SetElement) error {
	if err := w.connect(); err != nil {
		return err
	}
	txBytes := 0
	for set, all := range elements {
		for len(all) > 0 {
			n, msgBytes := 0, 0
			for n < len(all) && n < stagedElements && msgBytes < stagedPerMessage {
				msgBytes += stagedSize(all[n])
				n++
			}
			if n < len(all) && all[n].IntervalEnd {
				n++ // a start's end goes with it
			}
			if err := w.conn.SetAddElements(&nftables.Set{Name: set, Table: w.table}, all[:n]); err != nil {
				return w.reset(err)
			}
			all = all[n:]
			if txBytes += msgBytes; txBytes >= stagedPerTx {
				if err := w.conn.Flush(); err != nil {
					return w.reset(err)
				}
				txBytes = 0
			}
		}
	}
	if err := w.conn.Flush(); err != nil { // nothing queued: no message, no error
		return w.reset(err)
	}
	return nil
}

// stagedSize is about what an element takes in a netlink message: its bytes and its
// attributes' headers.
func stagedSize(e nftables.SetElement) int {
	n := len(e.Key) + len(e.KeyEnd) + len(e.Val) + len(e.Comment) + 96
	if e.VerdictData != nil {
		n += len(e.VerdictData.Chain)
	}
	return n
}
