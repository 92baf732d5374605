package proxy

import (
	"context"
	"slices"

	"github.com/weftnet/weft/internal/nft"
)

// Below the fixed skeleton (base chains, the lookup maps and their rules), the table is made
// of three kinds of object: chains, dynamic sets (ClientIP affinity) and elements of the
// skeleton's sets and maps. Each is put there by one or more owners (a Service, the cluster's
// ServiceCIDRs, the dispatch chains); internal/nft keeps, per object, what the kernel holds, so
// a sync sends only the objects whose owners changed.

// contribution is everything one owner puts in the table, and the dispatch rules its pick
// sets need.
type contribution struct {
	*nft.Contents
	// dispatch gives, for each pick set among the sets, the rule that leads to its chain.
	dispatch map[string]dispatchRule
}

func newContribution() *contribution {
	return &contribution{Contents: nft.NewContents()}
}

// chain adds rules to a chain of the contribution, creating it on first use.
func (c *contribution) chain(name string, rules ...nft.Rule) { c.AddRules(name, rules...) }

// sharedChain puts a chain that many owners (and many ports of one owner) use, always with
// the same rules, into the contribution.
func (c *contribution) sharedChain(name string, rules ...nft.Rule) {
	c.AddChain(&nft.Chain{Name: name, Rules: rules})
}

// element puts a set element (value nil) or a map element into the contribution.
func (c *contribution) element(set string, key []string, value ...string) {
	c.AddElement(set, key, value...)
}

// table is the proxy's nftables table: the owners' contributions in an nft.Table, and the
// dispatch chains, which follow the pick sets in use. set only counts the pick sets; sync
// writes the dispatch chains from the counts, as a pass before the table is diffed, so
// nothing an owner puts in calls back into the dispatch.
type table struct {
	nft *nft.Table
	// picks counts, per pick set, the owners that use it, and keeps its dispatch rule;
	// dispatchOf keeps each owner's pick sets, to count them down when it changes.
	picks        map[string]*pickUse
	dispatchOf   map[string]map[string]dispatchRule
	picksChanged bool
	// skeletonSize is what the skeleton alone holds, left out of the metrics.
	skeletonSize [3]int
}

type pickUse struct {
	owners int
	rule   dispatchRule
}

// dispatchOwner owns the dispatch chains; Service keys always hold a '/'.
const dispatchOwner = "dispatch"

func newTable(k nft.Kernel) *table {
	t := &table{nft: nft.NewTable(k, "weft: the service proxy"), picks: map[string]*pickUse{}, dispatchOf: map[string]map[string]dispatchRule{}, picksChanged: true}
	sk := skeleton()
	t.nft.Set(skeletonOwner, sk)
	t.skeletonSize = [3]int{len(sk.Chains), len(sk.Sets), len(sk.Elements)}
	return t
}

// set replaces what owner wants (nil: nothing, the owner is gone).
func (t *table) set(owner string, c *contribution) {
	if old := t.dispatchOf[owner]; old != nil {
		delete(t.dispatchOf, owner)
		for set := range old {
			u := t.picks[set]
			if u.owners--; u.owners == 0 {
				delete(t.picks, set)
				t.picksChanged = true
			}
		}
	}
	if c == nil {
		t.nft.Set(owner, nil)
		return
	}
	for set, r := range c.dispatch {
		if u := t.picks[set]; u != nil {
			u.owners++
			continue
		}
		t.picks[set] = &pickUse{owners: 1, rule: r}
		t.picksChanged = true
	}
	t.nft.Set(owner, c.Contents)
	if len(c.dispatch) > 0 {
		t.dispatchOf[owner] = c.dispatch
	}
}

// sync writes the dispatch chains if the pick sets in use changed, then brings the kernel in
// line (full: rewrites the table whole).
func (t *table) sync(ctx context.Context, full bool) (*nft.Tx, error) {
	if t.picksChanged {
		t.picksChanged = false
		t.nft.Set(dispatchOwner, dispatchChains(t.picks))
	}
	return t.nft.Sync(ctx, full)
}

// counts are the table's size by kind below the skeleton, for the metrics.
func (t *table) counts() (chains, sets, elements int) {
	c, s, e := t.nft.Counts()
	return c - t.skeletonSize[0], s - t.skeletonSize[1], e - t.skeletonSize[2]
}

// dispatchChains are the dispatch chains with a rule for each pick set in use, in a stable
// order. The chains always exist, empty or not: the skeleton's gate rules go to them.
func dispatchChains(picks map[string]*pickUse) *nft.Contents {
	c := nft.NewContents()
	for _, f := range fams {
		for _, name := range []string{plainChain(f), plainExternalChain(f), plainNodePortsChain(f)} {
			c.AddChain(&nft.Chain{Name: name})
		}
	}
	sets := make([]string, 0, len(picks))
	for s := range picks {
		sets = append(sets, s)
	}
	slices.Sort(sets)
	for _, s := range sets {
		d := picks[s].rule
		c.AddRules(d.chain, d.rule)
	}
	return c
}
