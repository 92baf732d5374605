package hostport

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/weftnet/weft/internal/atomicfile"
	"github.com/weftnet/weft/internal/filelock"
)

// The table's elements say nothing of the attachment they belong to, and weft-cni, one process
// per CNI command, keeps nothing in memory from one command to the next: a directory keeps
// one record per attachment with hostPorts, its entries as the table should hold them. Every
// change takes the directory's lock, reads the records, and writes the table from them
// (internal/nft's short-lived writer), so commands that run at once on a node take turns.
//
// A record is written before its entries go into the table and removed after they left it:
// an entry never exists without its record, so DEL and GC need only look at the directory to
// know that an attachment never had hostPorts, and run nothing for it.

// recordSuffix ends every record's file name; the lock file and anything else are not records.
const recordSuffix = ".json"

// record is one attachment's entries, as kept on disk.
type record struct {
	Owner   string  `json:"owner"`
	Entries []Entry `json:"entries"`
}

// RecordFile is where the record of attachment owner lives in dir: its name, escaped so that
// the '/' of "containerID/ifName" cannot make a path of it.
func RecordFile(dir, owner string) string {
	return filepath.Join(dir, url.PathEscape(owner)+recordSuffix)
}

// records is a directory of records.
type records string

// lock takes the directory's lock, making the directory on first use.
func (r records) lock() (unlock func(), err error) {
	if err := os.MkdirAll(string(r), 0o755); err != nil {
		return nil, fmt.Errorf("hostPort records: %w", err)
	}
	unlock, err = filelock.Lock(filepath.Join(string(r), "lock"), true)
	if err != nil {
		return nil, fmt.Errorf("hostPort records: %w", err)
	}
	return unlock, nil
}

// locked runs fn under the lock with every record: entries by owner.
func (r records) locked(fn func(owners map[string][]Entry) error) error {
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	owners, err := r.all()
	if err != nil {
		return err
	}
	return fn(owners)
}

// all reads every record: entries by owner.
func (r records) all() (map[string][]Entry, error) {
	files, err := os.ReadDir(string(r))
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]Entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hostPort records: %w", err)
	}
	owners := map[string][]Entry{}
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), recordSuffix) || strings.HasPrefix(f.Name(), ".") {
			continue
		}
		path := filepath.Join(string(r), f.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("hostPort record: %w", err)
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil || rec.Owner == "" {
			return nil, fmt.Errorf("hostPort record %s is not one weft-cni wrote (%v): remove it, and recreate the pod it belonged to", path, err)
		}
		owners[rec.Owner] = rec.Entries
	}
	return owners, nil
}

// put writes owner's record, replacing any.
func (r records) put(owner string, entries []Entry) error {
	b, err := json.Marshal(record{Owner: owner, Entries: entries})
	if err != nil {
		return err
	}
	return atomicfile.Write(RecordFile(string(r), owner), b, 0o644)
}

// drop removes owner's record; none is not an error.
func (r records) drop(owner string) error {
	if err := os.Remove(RecordFile(string(r), owner)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("hostPort record: %w", err)
	}
	return nil
}

// restore puts owner's record back as it was before a change that failed: entries, or none.
func (r records) restore(owner string, entries []Entry, had bool) error {
	if had {
		return r.put(owner, entries)
	}
	return r.drop(owner)
}
