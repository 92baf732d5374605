package netns

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Exec replaces the current process with argv, running inside the network namespace at path.
// prepare, when not nil, runs on the same thread after entering the namespace and before the
// exec; it may unshare further namespaces (mount, UTS) that the new program then inherits.
// Exec returns only on failure.
func Exec(path string, prepare func() error, argv []string) error {
	// Namespaces belong to a thread; execve keeps the calling thread's, so everything from
	// here on must happen on this one thread.
	runtime.LockOSThread()
	ns, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", path, err)
	}
	unix.Close(ns)
	if prepare != nil {
		if err := prepare(); err != nil {
			return err
		}
	}
	if err := unix.Exec(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	return nil
}
