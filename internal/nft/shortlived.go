package nft

import "context"

// A short-lived writer (weft-cni: one process per CNI command, several at once on a node)
// cannot keep a Table's memory of what it wrote from one run to the next. It keeps each
// owner's Contents in records of its own, under a lock that serialises its runs, and in each
// run:
//
//	t := nft.NewTable(k, comment)
//	t.Set(owner, contents)      // every owner of the records, as the last run left them
//	t.Sync(ctx, false)          // first sync: compares the kernel over netlink, writes only to repair
//	t.Set(changed, newContents) // this run's one change
//	t.Sync(ctx, false)          // sends that owner's objects only
//
// On an intact table the first Sync writes nothing (the kernel already holds what the records
// say) and the second sends only the changed owner's elements, over netlink when that is all
// they are: no nft process. A table someone deleted or changed is rewritten whole by the first.

// Holds says whether the kernel's table holds exactly what the owners want now, without
// writing anything: for a reader that must not repair (CNI CHECK).
func (t *Table) Holds(ctx context.Context) (bool, error) {
	return t.kernel.holds(ctx, t.wantedSnapshot)
}
