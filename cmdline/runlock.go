package cmdline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runLockName is the file in --state-dir that a running `lbhc run` holds
// locked (flock on Unix, LockFileEx on Windows) for its whole life, with
// its pid inside. The kernel drops the lock when the process dies, kill -9
// included, so `lbhc cleanup` can tell a live agent from a crashed one
// without trusting a stale pid.
const runLockName = "lbhc.pid"

// runLockWait is how long `lbhc run` waits for the lock: long enough for a
// `lbhc cleanup` (ExecStopPost) still running, short enough to fail fast
// when another agent really runs with the same state dir.
const runLockWait = 5 * time.Second

var errLocked = errors.New("locked")

// holdRunLock takes the state dir's run lock for `lbhc run` and writes
// the pid into it. unlock releases it (the process exit does too).
func holdRunLock(ctx context.Context, dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, flagErr("state-dir", "%v", err)
	}
	path := filepath.Join(dir, runLockName)
	end := time.Now().Add(runLockWait)
	for {
		f, err := tryLock(path)
		if err == nil {
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return func() { unlockFile(f) }, nil
		}
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("run lock %s: %w", path, err)
		}
		if time.Now().After(end) {
			return nil, fmt.Errorf("another lbhc (pid %s) runs with --state-dir %s", lockHolder(path), dir)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lockHolder is the pid written in the lock file, for messages.
func lockHolder(path string) string {
	b, err := os.ReadFile(path)
	if s := strings.TrimSpace(string(b)); err == nil && s != "" {
		return s
	}
	return "unknown"
}
