// Package filelock serialises processes that share files on one node: weft-cni runs once per
// CNI command, and a container runtime runs several at once.
package filelock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Lock takes an flock on the file at path (made if missing), shared or exclusive, and waits
// for it. The lock is on a file of its own because writers replace the files it guards, and
// with them their inodes. Closing the descriptor (unlock) drops it, and so does the process
// dying: a crashed writer never leaves the others waiting.
func Lock(path string, exclusive bool) (unlock func(), err error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
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
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}
