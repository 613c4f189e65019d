//go:build unix

package election

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on path, polling (every 5 ms) so that a
// cancelled context stops the wait; flock itself cannot be interrupted.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() {
				_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
				f.Close()
			}, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%s is locked by another process (flock) and was not released in time: %w: %w", path, errLockHeld, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
