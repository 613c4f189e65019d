package election_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

// leaseFromEngine runs a real engine on the none backend and returns the
// lease of its first grant: the same *Lease the probe server checks on
// every accepted connection.
func leaseFromEngine(b *testing.B) *election.Lease {
	b.Helper()
	cfg := election.Config{NodeID: "bench", LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	e, err := election.NewEngine(cfg, election.NewNoneBackend("bench"), election.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case ev := <-e.Events():
		if ev.Kind != election.Elected || ev.Lease == nil {
			b.Fatalf("first event %v, want elected with a lease", ev.Kind)
		}
		return ev.Lease
	case <-time.After(5 * time.Second):
		b.Fatal("no grant from the none backend within 5s")
	}
	return nil
}

// BenchmarkLeaseValid is the self-fence check made on every probe.
func BenchmarkLeaseValid(b *testing.B) {
	l := leaseFromEngine(b)
	for b.Loop() {
		if !l.Valid() {
			b.Fatal("lease invalid during the benchmark")
		}
	}
}

// BenchmarkTimeNow is the reference for BenchmarkLeaseValid: reading the
// monotonic clock is most of Valid's cost.
func BenchmarkTimeNow(b *testing.B) {
	var last time.Time
	for b.Loop() {
		now := time.Now()
		if now.Before(last) {
			b.Fatal("monotonic clock went backwards")
		}
		last = now
	}
}

// BenchmarkLeaseValidParallel: concurrent probe goroutines checking one
// lease while the engine renews it.
func BenchmarkLeaseValidParallel(b *testing.B) {
	l := leaseFromEngine(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !l.Valid() {
				b.Error("lease invalid during the benchmark")
				return
			}
		}
	})
}

// benchRenew measures one renewal round trip of a held grant through the
// CAS-record algorithm (casBackend) over store.
func benchRenew(b *testing.B, store election.Store) {
	be := election.NewCASBackend(store, "bench", 15*time.Second, nil)
	defer be.Close()
	ctx := context.Background()
	// A released record: an empty store is free only after a TTL.
	if _, err := store.Create(ctx, election.Record{TTL: time.Millisecond}); err != nil && !errors.Is(err, election.ErrConflict) {
		b.Fatal(err)
	}
	st, err := be.TryAcquire(ctx, false)
	if err != nil || !st.Held {
		b.Fatalf("acquire: held=%v err=%v", st.Held, err)
	}
	for b.Loop() {
		st, err := be.TryAcquire(ctx, true)
		if err != nil || !st.Held {
			b.Fatalf("renew: held=%v err=%v", st.Held, err)
		}
	}
}

// BenchmarkFileStoreRenew: lock, read, compare version, write a temp file,
// fsync, rename, unlock — on the filesystem of the test's temp dir.
func BenchmarkFileStoreRenew(b *testing.B) {
	s, err := election.NewFileStore(filepath.Join(b.TempDir(), "bench.lease"))
	if err != nil {
		b.Fatal(err)
	}
	benchRenew(b, s)
}

// BenchmarkMemoryStoreRenew is the CAS algorithm's own cost, without I/O.
func BenchmarkMemoryStoreRenew(b *testing.B) {
	benchRenew(b, election.NewReleasedMemoryStore())
}
