package election

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRenewInterval(t *testing.T) {
	for _, tc := range []struct {
		ttl, rd, rp, want time.Duration
	}{
		{15 * time.Second, 10 * time.Second, 2 * time.Second, 7500 * time.Millisecond},
		{5 * time.Second, 3 * time.Second, time.Second, 1750 * time.Millisecond},
		// 1.2 x retry-period just below renew-deadline: never below the period.
		{3 * time.Second, 2 * time.Second, 1600 * time.Millisecond, 1600 * time.Millisecond},
	} {
		c := Config{NodeID: "a", LeaseTTL: tc.ttl, RenewDeadline: tc.rd, RetryPeriod: tc.rp}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		got := RenewInterval(c)
		if got != tc.want {
			t.Errorf("RenewInterval(%s/%s/%s) = %s, want %s", tc.ttl, tc.rd, tc.rp, got, tc.want)
		}
		// Longer than a retry period only where the scheduled renewal plus
		// one retry a retry period later both start before the deadline.
		if got > tc.rp && got+tc.rp >= tc.rd {
			t.Errorf("%s/%s/%s: no room for a retry before the deadline", tc.ttl, tc.rd, tc.rp)
		}
	}
}

// plainStore hides MemoryStore's roster, like the DynamoDB and Azure
// record stores, and counts writes.
type plainStore struct {
	m       *MemoryStore
	mu      sync.Mutex
	updates int
}

func (s *plainStore) Get(ctx context.Context) (Record, string, error) { return s.m.Get(ctx) }
func (s *plainStore) Create(ctx context.Context, r Record) (string, error) {
	return s.m.Create(ctx, r)
}
func (s *plainStore) Update(ctx context.Context, r Record, prev string) (string, error) {
	s.mu.Lock()
	s.updates++
	s.mu.Unlock()
	return s.m.Update(ctx, r, prev)
}
func (s *plainStore) Close() error { return nil }

func (s *plainStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates
}

// TestLeaderRenewsEveryRenewInterval: a leader on a store without a roster
// renews once per RenewInterval; a failed renewal is retried a retry period
// later, and the deadline still counts from the last confirmed renewal.
func TestLeaderRenewsEveryRenewInterval(t *testing.T) {
	clk := newFakeClock()
	store := &plainStore{m: NewReleasedMemoryStore()}
	n := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	n.drain()
	if !n.lease.Valid() {
		t.Fatal("not leader")
	}
	clk.Advance(10*time.Second, 100*time.Millisecond) // first renewal after a retry period
	before := store.count()
	window := 60 * time.Second
	clk.Advance(window, 100*time.Millisecond)
	got := store.count() - before
	want := int(window / RenewInterval(testTiming))
	if got < want-1 || got > want+1 {
		t.Fatalf("%d renewals in %s, want %d±1 (one per %s)", got, window, want, RenewInterval(testTiming))
	}
	if !n.lease.Valid() {
		t.Fatal("leader lost its lease while renewing")
	}
	// Failing renewals: retried every retry period until the deadline.
	lastRenew := n.lease.Deadline().Add(-testTiming.RenewDeadline)
	before = store.count()
	store.m.SetFault(func(_ context.Context, op string) error {
		if op == "update" {
			return errors.New("503 server busy")
		}
		return nil
	})
	for n.lease.Valid() {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		if clk.Now().Sub(lastRenew) > testTiming.RenewDeadline {
			t.Fatalf("lease valid %s after the last confirmed renewal was sent", clk.Now().Sub(lastRenew))
		}
	}
	// From the renew interval to the deadline: the scheduled attempt and
	// its retries every retry period.
	if tries := store.count() - before; tries < 2 {
		t.Fatalf("%d renewal attempts before the deadline, want at least 2 (scheduled + one retry)", tries)
	}
}
