package ipam

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lock takes the store's lock file, shared for readers and exclusive for writers. The lock is
// on a file of its own because writers replace the state file, and with it its inode.
func (s *Store) lock(exclusive bool) (unlock func(), err error) {
	path := filepath.Join(s.dir, lockFile)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open IPAM lock %s: %w", path, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock IPAM store %s: %w", path, err)
	}
	// Closing the descriptor drops the lock.
	return func() { unix.Close(fd) }, nil
}
