package nft

import (
	"context"
	"fmt"

	"sigs.k8s.io/knftables"
)

// Fake is a Kernel in memory, for unit tests: it checks each transaction as nftables would
// (objects that exist, chains that are empty before they go) and prints the table.
type Fake struct {
	family Family
	name   string
	// Fake is knftables' model of one table; tests may read it (nfttrace.FromFake).
	*knftables.Fake
	// Err, when set, fails every transaction before it applies anything.
	Err error
}

// NewFake is an empty fake kernel holding (later) table family name.
func NewFake(family Family, name string) *Fake {
	return &Fake{family: family, name: name, Fake: knftables.NewFake(knftables.Family(family), name)}
}

func (f *Fake) Table() string { return string(f.family) + " " + f.name }

func (f *Fake) Run(ctx context.Context, tx *Tx) error {
	if f.Err != nil {
		return f.Err
	}
	if err := f.Fake.Run(ctx, knftTx(f.Fake, tx, false)); err != nil {
		return fmt.Errorf("table %s: %w", f.Table(), err)
	}
	return nil
}

func (f *Fake) List(ctx context.Context) (Names, error) {
	have := Names{Chains: map[string]bool{}, Sets: map[string]bool{}, Maps: map[string]bool{}}
	for kind, into := range map[string]map[string]bool{"chains": have.Chains, "sets": have.Sets, "maps": have.Maps} {
		names, err := f.Fake.List(ctx, kind)
		if knftables.IsNotFound(err) {
			continue
		}
		if err != nil {
			return have, err
		}
		for _, n := range names {
			into[n] = true
		}
	}
	return have, nil
}

// Dump is the table as `nft list table` would print it, sorted, for golden tests.
func (f *Fake) Dump() string { return f.Fake.Dump() }

// generation is unknown to the fake: a full sync always compares the table.
func (f *Fake) generation() (uint32, bool) { return 0, false }
