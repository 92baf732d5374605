package ipam

import (
	"fmt"
	"path/filepath"

	"github.com/weftnet/weft/internal/filelock"
)

// lock takes the store's lock file, shared for readers and exclusive for writers.
func (s *Store) lock(exclusive bool) (unlock func(), err error) {
	unlock, err = filelock.Lock(filepath.Join(s.dir, lockFile), exclusive)
	if err != nil {
		return nil, fmt.Errorf("IPAM store: %w", err)
	}
	return unlock, nil
}
