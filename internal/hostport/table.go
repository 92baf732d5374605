package hostport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/weftnet/weft/internal/nft"
)

// Rules changes the table one attachment at a time, for weft-cni: each method takes the
// records' lock, rebuilds the table from the records (internal/nft's short-lived writer) and
// sends the one attachment's change.
type Rules struct {
	// open gives the table's kernel, on first use: a command with nothing to change in the
	// table runs no nft process.
	open    func() (nft.Kernel, error)
	kernel  nft.Kernel
	records records
	bridge  string
	// RouteLocalnet lets the bridge route packets from 127.0.0.1 to pods, for the node's
	// own connections to 127.0.0.1:<hostPort> (IPv4 only: IPv6 has no such switch, so ::1
	// is mapped only for clients that bind another source, as with the reference portmap
	// plugin). Nil in unit tests.
	RouteLocalnet func(bridge string) error
}

// New returns the rules of the pods on bridge, with their records in dir, written through the
// kernel open gives (nft.New on a node, nft.NewFake in tests).
func New(open func() (nft.Kernel, error), dir, bridge string) *Rules {
	return &Rules{open: open, records: records(dir), bridge: bridge}
}

// table is the table as the records say, in memory. Its first Sync writes the kernel only
// where the kernel differs (a table someone deleted or changed, or none yet): on an intact
// table it reads the kernel over netlink and writes nothing.
func (r *Rules) table(owners map[string][]Entry) (*nft.Table, error) {
	if r.kernel == nil {
		k, err := r.open()
		if err != nil {
			return nil, fmt.Errorf("hostPorts need nftables: %w", err)
		}
		r.kernel = k
	}
	t := nft.NewTable(r.kernel, tableComment)
	t.Set(skeletonOwner, skeleton(r.bridge))
	for owner, entries := range owners {
		t.Set(owner, contentsOf(owner, entries))
	}
	return t, nil
}

// write brings the table in line with the records (owners), then sends the changes: the new
// entries of an attachment, or none to remove it.
func (r *Rules) write(ctx context.Context, owners, changes map[string][]Entry) error {
	t, err := r.table(owners)
	if err != nil {
		return err
	}
	if _, err := t.Sync(ctx, false); err != nil {
		return fmt.Errorf("table inet %s: %w", Table, err)
	}
	for owner, entries := range changes {
		var c *nft.Contents
		if len(entries) > 0 {
			c = contentsOf(owner, entries)
		}
		t.Set(owner, c)
	}
	if _, err := t.Sync(ctx, false); err != nil {
		return fmt.Errorf("table inet %s: %w", Table, err)
	}
	return nil
}

// Add maps the entries to the attachment owner (the CNI container ID and interface), replacing
// what it had. A host port another attachment holds makes the whole ADD fail, naming it;
// nothing is half-applied.
func (r *Rules) Add(ctx context.Context, owner string, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if r.RouteLocalnet != nil && slices.ContainsFunc(entries, func(e Entry) bool {
		return !e.IPv6() && (!e.HostIP.IsValid() || e.HostIP.IsLoopback())
	}) {
		if err := r.RouteLocalnet(r.bridge); err != nil {
			return err
		}
	}
	return r.records.locked(func(owners map[string][]Entry) error {
		if err := conflicts(owners, owner, entries); err != nil {
			return err
		}
		old, had := owners[owner]
		if err := r.records.put(owner, entries); err != nil {
			return err
		}
		if err := r.write(ctx, owners, map[string][]Entry{owner: entries}); err != nil {
			return errors.Join(err, r.records.restore(owner, old, had))
		}
		return nil
	})
}

// conflicts names the host ports of entries that another attachment holds, or that two of
// the entries want for different pods.
func conflicts(owners map[string][]Entry, owner string, entries []Entry) error {
	var errs []error
	for i, e := range entries {
		if other, el, ok := holder(owners, owner, e); ok {
			errs = append(errs, fmt.Errorf("hostPort %s is already mapped to %s for attachment %s: give this pod another hostPort or hostIP",
				e, strings.Join(el.Value, ":"), other))
		}
		if j := slices.IndexFunc(entries[:i], func(d Entry) bool { return sameKey(element(d), element(e)) }); j >= 0 {
			errs = append(errs, fmt.Errorf("hostPort %s and %s: one host port, two destinations: give one of them another hostPort", entries[j], e))
		}
	}
	return errors.Join(errs...)
}

// holder is the attachment other than owner that holds e's host port, and its element.
func holder(owners map[string][]Entry, owner string, e Entry) (string, *nft.Element, bool) {
	want := element(e)
	for other, held := range owners {
		for _, h := range held {
			if el := element(h); other != owner && sameKey(el, want) {
				return other, el, true
			}
		}
	}
	return "", nil, false
}

// Remove deletes the owner's entries, whatever they are; none is not an error, and an
// attachment without a record costs no nft process.
func (r *Rules) Remove(ctx context.Context, owner string) error {
	if _, err := os.Stat(RecordFile(string(r.records), owner)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return r.Retain(ctx, func(o string) bool { return o != owner })
}

// Retain deletes the entries of every owner keep refuses (CNI GC), and whatever the table
// holds that no record accounts for.
func (r *Rules) Retain(ctx context.Context, keep func(owner string) bool) error {
	if _, err := os.Stat(string(r.records)); errors.Is(err, os.ErrNotExist) {
		return nil // this node never had hostPorts
	}
	return r.records.locked(func(owners map[string][]Entry) error {
		gone := map[string][]Entry{}
		for owner := range owners {
			if !keep(owner) {
				gone[owner] = nil
			}
		}
		if err := r.write(ctx, owners, gone); err != nil {
			return err
		}
		var errs []error
		for owner := range gone {
			errs = append(errs, r.records.drop(owner))
		}
		return errors.Join(errs...)
	})
}

// Check returns an error naming each entry of the owner that is missing or differs, and any
// entry the owner holds beyond them (CNI CHECK); and one when the table does not hold what the
// records say. It writes nothing.
func (r *Rules) Check(ctx context.Context, owner string, entries []Entry) error {
	return r.records.locked(func(owners map[string][]Entry) error {
		errs := compare(owners, owner, entries)
		t, err := r.table(owners)
		if err != nil {
			return err
		}
		switch holds, err := t.Holds(ctx); {
		case err != nil:
			errs = append(errs, fmt.Errorf("table inet %s: %w", Table, err))
		case !holds:
			errs = append(errs, fmt.Errorf("table inet %s does not hold the hostPorts weft-cni wrote (someone changed or deleted it): the next hostPort ADD, DEL or GC on this node rewrites it", Table))
		}
		return errors.Join(errs...)
	})
}

// compare checks the owner's record against the entries its portMappings give.
func compare(owners map[string][]Entry, owner string, entries []Entry) []error {
	var errs []error
	found := map[int]bool{}
	for _, e := range entries {
		want := element(e)
		i := slices.IndexFunc(owners[owner], func(h Entry) bool { return sameKey(element(h), want) })
		switch {
		case i >= 0 && slices.Equal(element(owners[owner][i]).Value, want.Value):
			found[i] = true
		case i >= 0:
			errs = append(errs, fmt.Errorf("hostPort %s goes to %s instead", e, strings.Join(element(owners[owner][i]).Value, ":")))
			found[i] = true
		default:
			errs = append(errs, missing(owners, owner, e))
		}
	}
	for i, h := range owners[owner] {
		if !found[i] {
			el := element(h)
			errs = append(errs, fmt.Errorf("map inet %s %s holds %s -> %s for this attachment, which its portMappings do not have", Table, el.Set, strings.Join(el.Key, " . "), strings.Join(el.Value, ":")))
		}
	}
	return errs
}

// missing says where an entry the owner lacks went: to another attachment, or nowhere.
func missing(owners map[string][]Entry, owner string, e Entry) error {
	if other, el, ok := holder(owners, owner, e); ok {
		return fmt.Errorf("hostPort %s goes to %s for attachment %s instead", e, strings.Join(el.Value, ":"), other)
	}
	return fmt.Errorf("hostPort %s is missing from map inet %s %s", e, Table, element(e).Set)
}

func sameKey(a, b *nft.Element) bool { return a.Set == b.Set && slices.Equal(a.Key, b.Key) }

// Cleanup deletes the whole table and every record.
func (r *Rules) Cleanup(ctx context.Context) error {
	return r.records.locked(func(owners map[string][]Entry) error {
		t, err := r.table(nil)
		if err != nil {
			return err
		}
		if err := t.Delete(ctx); err != nil {
			return fmt.Errorf("table inet %s: %w", Table, err)
		}
		var errs []error
		for owner := range owners {
			errs = append(errs, r.records.drop(owner))
		}
		return errors.Join(errs...)
	})
}
