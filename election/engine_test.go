package election

import (
	"context"
	"errors"
	"testing"
	"time"
)

var testTiming = Config{LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

type testNode struct {
	eng    *Engine
	cancel context.CancelFunc
	lease  *Lease
	events []Event
}

// drain collects pending events without blocking.
func (n *testNode) drain() {
	for {
		select {
		case ev := <-n.eng.Events():
			n.events = append(n.events, ev)
			if ev.Kind == Elected {
				n.lease = ev.Lease
			}
		default:
			return
		}
	}
}

func startNode(t *testing.T, id string, b Backend, clk Clock) *testNode {
	t.Helper()
	cfg := testTiming
	cfg.NodeID = id
	eng, err := NewEngine(cfg, b, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &testNode{eng: eng, cancel: cancel}
}

func leaders(nodes []*testNode) (n int) {
	for _, x := range nodes {
		x.drain()
		if x.lease.Valid() {
			n++
		}
	}
	return n
}

func TestValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{NodeID: "a", LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}, ""},
		{Config{LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}, "invalid --node-id: must not be empty"},
		{Config{NodeID: "a", LeaseTTL: -time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}, "invalid --lease-ttl: must be positive, got -1s"},
		{Config{NodeID: "a", LeaseTTL: 10 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}, "invalid --renew-deadline: 10s must be shorter than --lease-ttl 10s"},
		{Config{NodeID: "a", LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 9 * time.Second}, "invalid --retry-period: 1.2 x 9s must be shorter than --renew-deadline 10s"},
		{Config{NodeID: "a", LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second}, "invalid --retry-period: must be positive, got 0s"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.ExitCode() != 2 {
				t.Errorf("%v: not a ConfigError with exit code 2", err)
			}
		}
		if got != c.want {
			t.Errorf("Validate(%+v) = %q, want %q", c.cfg, got, c.want)
		}
	}
}

func TestContentionOneLeaderAndTakeoverAfterFullTTL(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	var nodes []*testNode
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		nodes = append(nodes, startNode(t, id, NewCASBackend(store, id, testTiming.LeaseTTL, clk), clk))
	}
	clk.Advance(time.Second, 100*time.Millisecond)
	for range 100 {
		clk.Advance(300*time.Millisecond, 100*time.Millisecond)
		if n := leaders(nodes); n != 1 {
			t.Fatalf("%d leaders under contention, want 1", n)
		}
	}
	var old *testNode
	for _, n := range nodes {
		if n.lease.Valid() {
			old = n
		}
	}
	oldTerm := old.lease.Term
	// Silence the holder: its renewals now hang until their context ends.
	old.cancel()
	time.Sleep(10 * time.Millisecond)
	// The holder's last successful renewal was sent at deadline - renew-deadline.
	silent := old.lease.Deadline().Add(-testTiming.RenewDeadline)
	for clk.Now().Sub(silent) < 2*testTiming.LeaseTTL {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		n := leaders(nodes)
		if n > 1 {
			t.Fatalf("%d leaders after the holder went silent", n)
		}
		rec, _ := store.Snapshot()
		if rec.Holder != old.eng.cfg.NodeID {
			since := clk.Now().Sub(silent)
			if since < testTiming.LeaseTTL {
				t.Fatalf("record taken over %s after the holder's last renewal, before a full TTL", since)
			}
			if rec.Term <= oldTerm {
				t.Fatalf("term %d after takeover, want > %d", rec.Term, oldTerm)
			}
			return
		}
	}
	t.Fatal("no takeover within two TTLs of silence")
}

// hangingStore makes every update hang until its context ends, as a
// backend that stopped answering would.
func hangUpdates(store *MemoryStore) {
	store.SetFault(func(ctx context.Context, op string) error {
		if op == "update" {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
}

func TestSelfFenceByDeadlineWhenRenewalsHang(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	n := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	n.drain()
	if !n.lease.Valid() {
		t.Fatal("not leader")
	}
	clk.Advance(4*time.Second, 100*time.Millisecond) // two renewals
	lastRenew := n.lease.Deadline().Add(-testTiming.RenewDeadline)
	hangUpdates(store)
	for n.lease.Valid() {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		if clk.Now().Sub(lastRenew) > testTiming.RenewDeadline {
			t.Fatalf("lease valid %s after the last successful renew was sent (renew-deadline %s)", clk.Now().Sub(lastRenew), testTiming.RenewDeadline)
		}
	}
	time.Sleep(5 * time.Millisecond)
	n.drain()
	last := n.events[len(n.events)-1]
	if last.Kind != Lost || last.Lease != n.lease {
		t.Fatalf("last event %v for term %d, want Lost for the lease", last.Kind, last.Lease.Term)
	}
}

func TestSelfFenceWhenRenewalsFail(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	n := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	n.drain()
	deadline := n.lease.Deadline()
	store.SetFault(func(context.Context, string) error { return errors.New("503 server busy") })
	clk.Advance(testTiming.RenewDeadline, 100*time.Millisecond)
	if n.lease.Valid() {
		t.Fatal("lease still valid past its deadline while renewals failed")
	}
	if clk.Now().Before(deadline) {
		t.Fatal("clock did not pass the deadline")
	}
}

func TestReleaseImmediateTakeoverAndTermsIncrease(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	a := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	b := startNode(t, "b", NewCASBackend(store, "b", testTiming.LeaseTTL, clk), clk)
	clk.Advance(3*time.Second, 100*time.Millisecond)
	a.drain()
	if !a.lease.Valid() {
		t.Fatal("a should lead")
	}
	t1 := a.lease.Term
	if err := a.eng.Release(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if a.lease.Valid() {
		t.Fatal("lease valid after release")
	}
	start := clk.Now()
	for leaders([]*testNode{b}) == 0 {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		if clk.Now().Sub(start) > testTiming.RetryPeriod+100*time.Millisecond {
			t.Fatalf("no takeover within a retry period of the release")
		}
	}
	if b.lease.Term <= t1 {
		t.Fatalf("term %d after release, want > %d", b.lease.Term, t1)
	}
}

func TestPausedLeaderResumingPastDeadlineIsInvalid(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	n := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	n.drain()
	l := n.lease
	// A pause (SIGSTOP, GC, VM freeze): time jumps without the engine
	// running at all. Valid must be false the moment time is read again,
	// before the engine has had a chance to notice or emit anything.
	clk.mu.Lock()
	clk.now = clk.now.Add(testTiming.LeaseTTL)
	clk.mu.Unlock()
	if l.Valid() {
		t.Fatal("lease valid after resuming past its deadline")
	}
}

func TestNoneBackendTermsIncrease(t *testing.T) {
	b := NewNoneBackend("a")
	var last uint64
	for i := range 3 {
		st, err := b.TryAcquire(context.Background(), false)
		if err != nil || !st.Held || st.Term <= last {
			t.Fatalf("grant %d: %+v %v (previous term %d)", i, st, err, last)
		}
		last = st.Term
		if st, err := b.TryAcquire(context.Background(), true); err != nil || st.Term != last {
			t.Fatalf("renew changed term: %+v %v", st, err)
		}
	}
}

func TestAcquireDelayLetsBetterNodeWin(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	low := startNode(t, "low", NewCASBackend(store, "low", testTiming.LeaseTTL, clk), clk)
	low.eng.SetAcquireDelay(2*testTiming.RetryPeriod + 500*time.Millisecond)
	clk.Advance(time.Second, 100*time.Millisecond) // low sees the lease free first
	high := startNode(t, "high", NewCASBackend(store, "high", testTiming.LeaseTTL, clk), clk)
	clk.Advance(6*time.Second, 100*time.Millisecond)
	if leaders([]*testNode{high}) != 1 || leaders([]*testNode{low}) != 0 {
		t.Fatalf("high-priority node should lead: high=%v low=%v", high.lease.Valid(), low.lease.Valid())
	}
	if st := low.eng.Status(); st.Leader != "high" {
		t.Fatalf("low observes leader %q, want high", st.Leader)
	}
	// With the better node gone for good, the delayed node still takes over.
	high.cancel()
	clk.Advance(testTiming.LeaseTTL+4*testTiming.RetryPeriod+time.Second, 100*time.Millisecond)
	if leaders([]*testNode{low}) != 1 {
		t.Fatal("delayed node never took the expired lease")
	}
}

// Every backend can be observed without acquiring, so priorities, the
// unhealthy last-resort delay and a switchover's report work everywhere.
func TestBackendsArePeekers(t *testing.T) {
	var _ Peeker = (*casBackend)(nil)
}

// The kernel fence takes its deadline from OnExtend: every confirmed
// renewal must call it with Deadline already moved, and the end of the
// grant must call it once more with the lease no longer valid.
func TestOnExtendFollowsRenewals(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	n := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	n.drain()
	if !n.lease.Valid() {
		t.Fatal("not leader")
	}
	seen := make(chan time.Time, 100)
	l := n.lease
	l.OnExtend(func() { seen <- l.Deadline() })
	before := l.Deadline()
	clk.Advance(4*time.Second+100*time.Millisecond, 100*time.Millisecond) // two renewals
	var got []time.Time
	for len(seen) > 0 {
		got = append(got, <-seen)
	}
	if len(got) != 2 {
		t.Fatalf("OnExtend ran %d times in two retry periods, want 2", len(got))
	}
	if !got[0].After(before) || !got[1].After(got[0]) || !got[1].Equal(l.Deadline()) {
		t.Fatalf("deadlines seen %v (before %v, now %v): not moved forward by each renewal", got, before, l.Deadline())
	}
	store.SetFault(func(context.Context, string) error { return ErrLeaseLost })
	clk.Advance(2*time.Second+100*time.Millisecond, 100*time.Millisecond)
	select {
	case d := <-seen:
		if l.Valid() || clk.Now().Before(d) {
			t.Fatalf("after the loss: valid %v, deadline %v, now %v", l.Valid(), d, clk.Now())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnExtend did not run when the grant ended")
	}
}
