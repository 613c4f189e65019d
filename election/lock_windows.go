//go:build windows

package election

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive LockFileEx lock on path, polling (every 5 ms)
// so that a cancelled context stops the wait.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	h := windows.Handle(f.Fd())
	for {
		ol := new(windows.Overlapped)
		err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
		if err == nil {
			return func() {
				_ = windows.UnlockFileEx(h, 0, 1, 0, new(windows.Overlapped))
				f.Close()
			}, nil
		}
		if err != windows.ERROR_LOCK_VIOLATION {
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
