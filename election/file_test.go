package election

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A write waits while another process holds the file lock, and goes ahead
// as soon as it is released: a contended lock is not an error.
func TestFileStoreWaitsForTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lease")
	s, err := NewFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := lockFile(context.Background(), s.lock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Create(context.Background(), Record{Holder: "a", Term: 1, TTL: time.Second})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("create returned %v while another process held the lock", err)
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("create after the lock was released: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("create never went ahead after the lock was released")
	}
	// A cancelled wait gives up with the context's error.
	unlock, err = lockFile(context.Background(), s.lock)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := s.Update(ctx, Record{Holder: "b", Term: 2}, "1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("update with the lock held until its context ended: %v", err)
	}
}

// Concurrent writers, each with its own FileStore on one file (separate
// processes), see only success or ErrConflict, and every successful update
// produced a distinct version: exactly one winner per version.
func TestFileStoreConcurrentCAS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lease")
	first, err := NewFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Create(context.Background(), Record{Holder: "x", Term: 1, TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	wins := map[string]int{} // version written -> winners
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := NewFileStore(path)
			if err != nil {
				t.Error(err)
				return
			}
			for range 20 {
				rec, ver, err := s.Get(context.Background())
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				nv, err := s.Update(context.Background(), Record{Holder: string(rune('a' + w)), Term: rec.Term + 1, TTL: time.Second}, ver)
				switch {
				case errors.Is(err, ErrConflict):
				case err != nil:
					t.Errorf("update under contention: %v (want success or ErrConflict)", err)
					return
				default:
					mu.Lock()
					wins[nv]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	rec, _, err := first.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for v, n := range wins {
		if n != 1 {
			t.Fatalf("version %s written by %d winners", v, n)
		}
	}
	if rec.Term != uint64(len(wins))+1 {
		t.Fatalf("term %d after %d successful updates on term 1: a write was lost or doubled", rec.Term, len(wins))
	}
}
