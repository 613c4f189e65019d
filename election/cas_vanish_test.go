package election

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

const casTTL = 15 * time.Second

// tryAt tries to acquire with b at the fake clock's current time.
func tryAt(t *testing.T, clk *fakeClock, b Backend) State {
	t.Helper()
	st, err := b.TryAcquire(context.Background(), false)
	if err != nil {
		t.Fatalf("acquire at +%s: %v", clk.Now().Sub(time.Unix(1_000_000, 0)), err)
	}
	return st
}

// A record that vanishes is not free: the follower that saw it, and a
// node that never saw it, both create a new one only after every read for
// a full TTL found it missing; the new term is above every term seen.
func TestVanishedRecordWaitsTTLAndRaisesTerm(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	a := NewCASBackend(store, "a", casTTL, clk)
	b := NewCASBackend(store, "b", casTTL, clk)
	if st := tryAt(t, clk, a); !st.Held || st.Term != 1 {
		t.Fatalf("a: %+v", st)
	}
	for range 5 { // a renews to term 1; b watches; terms climb by switchover
		if _, err := a.TryAcquire(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		if st := tryAt(t, clk, b); st.Held {
			t.Fatalf("b took a live lease: %+v", st)
		}
		clk.now = clk.now.Add(2 * time.Second)
	}
	store.Delete()
	// The holder's renewal fails on the missing record: it demotes.
	if _, err := a.TryAcquire(context.Background(), true); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("holder renew after deletion: %v, want ErrLeaseLost", err)
	}
	deleted := clk.Now()
	c := NewCASBackend(store, "c", casTTL, clk) // started after the deletion, never saw it
	for clk.Now().Sub(deleted) < casTTL {
		for _, n := range []Backend{a, b, c} {
			if st := tryAt(t, clk, n); st.Held || st.RetryAfter <= 0 {
				t.Fatalf("granted or no wait %s after the record vanished: %+v", clk.Now().Sub(deleted), st)
			}
		}
		clk.now = clk.now.Add(500 * time.Millisecond)
	}
	st := tryAt(t, clk, b)
	if !st.Held || st.Term != 2 {
		t.Fatalf("b after a TTL of absence: %+v, want held term 2", st)
	}
}

// The highest term survives a restart in the term file: a node restarted
// after the record was deleted grants above it.
func TestTermFileKeepsTermAcrossRestartAndDeletion(t *testing.T) {
	clk := newFakeClock()
	path := filepath.Join(t.TempDir(), "g.term")
	tf, err := LoadTermFile(path)
	if err != nil {
		t.Fatal(err)
	}
	store := NewMemoryStore()
	if _, err := store.Create(context.Background(), Record{Holder: "x", Term: 41, TTL: casTTL}); err != nil {
		t.Fatal(err)
	}
	a := NewCASBackend(store, "a", casTTL, clk, WithTermFile(tf))
	if st := tryAt(t, clk, a); st.Held || st.Term != 41 {
		t.Fatalf("a sees x: %+v", st)
	}
	clk.now = clk.now.Add(casTTL)
	if st := tryAt(t, clk, a); !st.Held || st.Term != 42 {
		t.Fatalf("a takes over: %+v", st)
	}
	store.Delete()
	tf2, err := LoadTermFile(path) // a restarts
	if err != nil || tf2.Load() != 42 {
		t.Fatalf("term file after restart: %v, %v", tf2, err)
	}
	a2 := NewCASBackend(store, "a", casTTL, clk, WithTermFile(tf2))
	tryAt(t, clk, a2)
	clk.now = clk.now.Add(casTTL)
	if st := tryAt(t, clk, a2); !st.Held || st.Term != 43 {
		t.Fatalf("after deletion and restart: %+v, want term 43", st)
	}
}

// Records no lbhc node writes are refused, never taken as free, and the
// node takes the lease once a valid record is back.
func TestInvalidRecordsAreNotFree(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  Record
	}{
		{"no ttl", Record{Holder: "x", Term: 3}},
		{"holder without term", Record{Holder: "x", TTL: casTTL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			store := NewMemoryStore()
			ctx := context.Background()
			v, _ := store.Create(ctx, Record{Holder: "x", Term: 5, TTL: casTTL})
			a := NewCASBackend(store, "a", casTTL, clk)
			tryAt(t, clk, a)
			v, _ = store.Update(ctx, tc.rec, v)
			for range 3 {
				clk.now = clk.now.Add(casTTL)
				st, err := a.TryAcquire(ctx, false)
				if !errors.Is(err, ErrCorrupt) || st.Held {
					t.Fatalf("invalid record %+v: %+v, %v; want ErrCorrupt", tc.rec, st, err)
				}
				if ErrorReason(err) != ReasonCorrupt {
					t.Fatalf("reason %q", ErrorReason(err))
				}
			}
			if _, err := store.Update(ctx, Record{Term: 6, TTL: casTTL}, v); err != nil {
				t.Fatal(err)
			}
			if st := tryAt(t, clk, a); !st.Held || st.Term != 7 {
				t.Fatalf("after a valid released record: %+v", st)
			}
		})
	}
}

// A record whose term went back below one this node has seen (recreated
// by a node that missed the last grants) is reported while its holder
// renews, and taken over, with a term above both, once it stays unchanged
// for a TTL.
func TestStaleTermRecordReportedThenTakenOver(t *testing.T) {
	clk := newFakeClock()
	store := NewMemoryStore()
	ctx := context.Background()
	v, _ := store.Create(ctx, Record{Holder: "x", Term: 9, TTL: casTTL})
	a := NewCASBackend(store, "a", casTTL, clk)
	tryAt(t, clk, a)
	store.Delete()
	v, _ = store.Create(ctx, Record{Holder: "y", Term: 2, TTL: casTTL})
	for range 5 { // y renews: a new version every 2 s
		st, err := a.TryAcquire(ctx, false)
		if !errors.Is(err, ErrCorrupt) || st.Held {
			t.Fatalf("stale record: %+v, %v; want ErrCorrupt, not held", st, err)
		}
		v, _ = store.Update(ctx, Record{Holder: "y", Term: 2, TTL: casTTL}, v)
		clk.now = clk.now.Add(2 * time.Second)
	}
	tryAt2 := func() (State, error) { return a.TryAcquire(ctx, false) }
	_, _ = tryAt2() // sees the last version
	clk.now = clk.now.Add(casTTL)
	st, err := tryAt2()
	if err != nil || !st.Held || st.Term != 10 {
		t.Fatalf("after y stopped renewing for a TTL: %+v, %v; want held term 10", st, err)
	}
}
