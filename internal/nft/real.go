package nft

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/netns"
)

// New writes table family name in the kernel, in the network namespace at nsPath ("" for the
// caller's own). Transactions that only swap elements go over netlink; the others go through
// nft, which compiles rule text, with elements batched. Listing is over netlink.
func New(family Family, table, nsPath string) (Kernel, error) {
	k := &realKernel{family: family, name: table, ns: nsPath}
	if err := k.inNS(func() (err error) {
		k.nft, err = knftables.New(knftables.Family(family), table)
		return err
	}); err != nil {
		return nil, fmt.Errorf("nftables for table %s: %w", k.Table(), err)
	}
	nl, err := newNetlinkElements(family, table, nsPath)
	if err != nil {
		return nil, err
	}
	k.nl = nl
	return k, nil
}

type realKernel struct {
	family Family
	name   string
	ns     string
	nft    knftables.Interface
	nl     *netlinkElements
	// swaps counts the transactions sent over netlink, for tests.
	swaps int
}

func (k *realKernel) Table() string { return string(k.family) + " " + k.name }

// inNS runs fn where nft must run: nft is a child process, and inherits its thread's
// namespace.
func (k *realKernel) inNS(fn func() error) error {
	if k.ns == "" {
		return fn()
	}
	return netns.Do(k.ns, fn)
}

func (k *realKernel) Run(ctx context.Context, tx *Tx) error {
	if tx.staged {
		return k.runStaged(ctx, tx)
	}
	if tx.ElementsOnly() {
		switch err := k.nl.write(tx); {
		case err == nil:
			k.swaps++
			return nil
		case !errors.Is(err, errNeedsNFT):
			return fmt.Errorf("table %s: %w", k.Table(), err)
		}
	}
	if err := k.inNS(func() error { return k.nft.Run(ctx, knftTx(k.nft, tx, true)) }); err != nil {
		return fmt.Errorf("table %s: %w", k.Table(), err)
	}
	return nil
}

func (k *realKernel) List(ctx context.Context) (Names, error) {
	return k.nl.list()
}

func (k *realKernel) holds(ctx context.Context, w func() written) (bool, error) {
	return k.nl.holds(w)
}

func (k *realKernel) generation() (uint32, bool) {
	gen, err := k.nl.generation()
	return gen, err == nil
}
