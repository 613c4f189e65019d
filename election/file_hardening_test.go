//go:build linux

package election

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const goodRecord = `{"holder":"","term":4,"lease_duration_ms":15000,"version":9}` + "\n"

// Each bad lease file is refused with a reason, is never free, and the
// node takes the lease as soon as a good file is back.
func TestBadLeaseFilesRefusedThenRecovered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		make   func(t *testing.T, path string)
		reason string
	}{
		{"null", writeLease("null\n"), ReasonCorrupt},
		{"empty object", writeLease("{}\n"), ReasonCorrupt},
		{"empty", writeLease(""), ReasonCorrupt},
		{"not json", writeLease("holder=a\n"), ReasonCorrupt},
		{"directory", func(t *testing.T, p string) { mustOK(t, os.Mkdir(p, 0o700)) }, ReasonUnusable},
		{"fifo", func(t *testing.T, p string) { mustOK(t, unix.Mkfifo(p, 0o600)) }, ReasonUnusable},
		{"symlink to another file", func(t *testing.T, p string) {
			other := filepath.Join(filepath.Dir(p), "other")
			mustOK(t, os.WriteFile(other, []byte(goodRecord), 0o600))
			mustOK(t, os.Symlink(other, p))
		}, ReasonUnusable},
		{"40 GB sparse", func(t *testing.T, p string) {
			f, err := os.Create(p)
			mustOK(t, err)
			mustOK(t, f.Truncate(40<<30))
			mustOK(t, f.Close())
		}, ReasonUnusable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			path := filepath.Join(t.TempDir(), "g.lease")
			fs, err := NewFileStore(path)
			mustOK(t, err)
			tc.make(t, path)
			b := NewCASBackend(fs, "a", casTTL, clk)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 3 {
				clk.now = clk.now.Add(casTTL)
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				st, err := b.TryAcquire(ctx, false)
				cancel()
				if err == nil || st.Held {
					t.Fatalf("bad file taken: %+v, %v", st, err)
				}
				if r := ErrorReason(err); r != tc.reason {
					t.Fatalf("reason %q (%v), want %q", r, err, tc.reason)
				}
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Fatalf("three reads of the bad file allocated %d bytes", d)
			}
			mustOK(t, os.RemoveAll(path))
			mustOK(t, os.WriteFile(path, []byte(goodRecord), 0o600))
			if st, err := b.TryAcquire(context.Background(), false); err != nil || !st.Held || st.Term != 5 {
				t.Fatalf("after a good file returned: %+v, %v", st, err)
			}
		})
	}
}

func writeLease(s string) func(*testing.T, string) {
	return func(t *testing.T, p string) { mustOK(t, os.WriteFile(p, []byte(s), 0o600)) }
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLeaseDirAndLockFileChecks(t *testing.T) {
	dir := t.TempDir()
	mustOK(t, os.Chmod(dir, 0o1777))
	if _, err := NewFileStore(filepath.Join(dir, "g.lease")); err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Fatalf("world-writable sticky directory: %v", err)
	}
	if _, err := NewFileStore(filepath.Join(t.TempDir(), "missing", "g.lease")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing directory: %v", err)
	}

	dir = t.TempDir()
	target := filepath.Join(dir, "victim")
	mustOK(t, os.Symlink(target, filepath.Join(dir, "g.lease.lock")))
	if _, err := NewFileStore(filepath.Join(dir, "g.lease")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("symlinked lock file: %v", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the link's target was created: %v", err)
	}

	if os.Geteuid() != 0 {
		t.Log("not root: the foreign-owned lock file case needs chown")
	} else {
		dir = t.TempDir()
		lock := filepath.Join(dir, "g.lease.lock")
		mustOK(t, os.WriteFile(lock, nil, 0o600))
		mustOK(t, os.Chown(lock, 65534, 65534))
		if _, err := NewFileStore(filepath.Join(dir, "g.lease")); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Fatalf("foreign-owned lock file: %v", err)
		}
	}

	// A lock held by another process is reported as such when the write
	// gives up, not as a timeout of unknown cause.
	dir = t.TempDir()
	fs, err := NewFileStore(filepath.Join(dir, "g.lease"))
	mustOK(t, err)
	f, err := os.OpenFile(fs.lock, os.O_RDWR, 0)
	mustOK(t, err)
	defer f.Close()
	mustOK(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = fs.Create(ctx, Record{Holder: "a", Term: 1, TTL: casTTL})
	if ErrorReason(err) != ReasonLockHeld || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("held lock: reason %q, %v", ErrorReason(err), err)
	}
}
