// Package nft is weft's one way to nftables. A feature describes the table it wants as data
// (chains with their rules, sets, maps and their elements), grouped by owner: a Service, a
// NetworkPolicy, or the feature's fixed skeleton. The Table keeps what each owner wants and
// what the last transaction left in the kernel, so a sync sends only the objects whose owners
// changed, in one atomic transaction, and a full sync rewrites the table whole, in place, in one
// transaction too.
//
// The kernel sits behind Kernel: New writes to the real one (element swaps, the most common
// change, over netlink; everything else through nft, which compiles rule text; a table not in
// the kernel yet in stages, its elements over netlink and its base chains last), NewFake keeps
// the table in memory for unit tests and prints it as golden text. Features never see which;
// nothing in production code looks at the kind of Kernel it was handed.
//
// A typical feature:
//
//	k, err := nft.New(nft.InetFamily, "weft-feature", "")
//	t := nft.NewTable(k, "weft: what the feature does")
//	t.Set("skeleton", skeletonContents())           // base chains, shared sets
//	t.Set("ns/name", contentsOf(obj))               // one owner per object the feature follows
//	sent, err := t.Sync(ctx, full)                  // full: rewrite whole (first sync, resync, after a failure)
//
// Rules and chains carry comments that say what they are for (which object made them, which
// port): `nft list ruleset` shows them, and `weft trace` reads them back. Elements may carry
// comments too (which policy rules an element stands for), and in an interval set any field
// of an element's key may be a range (intervals.go).
package nft
