package election

import (
	"context"
	"testing"
	"time"
)

func TestFailsafeKeepsLeaderThroughOutageWithoutEvents(t *testing.T) {
	g := newFSGroup(t, "a", "b", "c")
	g.advanceChecking(time.Second)
	_, who := g.leaders()
	if len(who) != 1 {
		t.Fatalf("leaders %v", who)
	}
	lead := g.get(who[0])
	if rec, _ := g.mem.Snapshot(); rec.TTL != testTiming.LeaseTTL+g.p {
		t.Fatalf("record TTL %s, want lease-ttl + promise = %s", rec.TTL, testTiming.LeaseTTL+g.p)
	}
	events := len(lead.node.events)
	for _, n := range []string{"a", "b", "c"} {
		g.get(n).store.down.Store(true)
	}
	g.advanceChecking(60 * time.Second)
	if !lead.node.lease.Valid() {
		t.Fatal("leader demoted during a backend outage although every peer promised")
	}
	if fs := lead.node.eng.FailsafeStatus(); !fs.Active || fs.Reason != ReasonUnavailable {
		t.Fatalf("failsafe status %+v, want active (unavailable)", fs)
	}
	for _, n := range []string{"a", "b", "c"} {
		g.get(n).store.down.Store(false)
	}
	g.advanceChecking(5 * time.Second)
	lead.node.drain()
	if len(lead.node.events) != events || !lead.node.lease.Valid() {
		t.Fatalf("events after the outage %v (had %d); valid %v: the agent must see no Lost/Elected",
			lead.node.events, events, lead.node.lease.Valid())
	}
	if fs := lead.node.eng.FailsafeStatus(); fs.Active {
		t.Fatalf("failsafe still active after the backend came back: %+v", fs)
	}
	if d := lead.node.lease.Deadline().Sub(g.clk.Now()); d > testTiming.RenewDeadline {
		t.Fatalf("deadline %s ahead after recovery, want a renewal's (<= renew-deadline)", d)
	}
}

// Without every peer's grant the leader demotes by its renew deadline.
func TestFailsafeMissingPeerDemotesByDeadline(t *testing.T) {
	g := newFSGroup(t, "a", "b", "c")
	g.advanceChecking(time.Second)
	_, who := g.leaders()
	lead := g.get(who[0])
	g.setDrop(func(from, to string) bool { return to == "c" || from == "c" })
	for _, n := range []string{"a", "b", "c"} {
		g.get(n).store.down.Store(true)
	}
	lastRenew := lead.node.lease.Deadline().Add(-testTiming.RenewDeadline)
	for lead.node.lease.Valid() {
		g.advanceChecking(100 * time.Millisecond)
		if g.clk.Now().Sub(lastRenew) > testTiming.RenewDeadline {
			t.Fatalf("leader valid %s after its last renewal with peer c silent", g.clk.Now().Sub(lastRenew))
		}
	}
	time.Sleep(5 * time.Millisecond)
	lead.node.drain()
	if ev := lead.node.events[len(lead.node.events)-1]; ev.Kind != Lost {
		t.Fatalf("last event %v, want Lost", ev.Kind)
	}
}

// A conflict is never "unreachable": a stolen record demotes at once even
// while promises last.
func TestFailsafeConflictEndsAtOnce(t *testing.T) {
	g := newFSGroup(t, "a", "b")
	g.advanceChecking(time.Second)
	_, who := g.leaders()
	lead := g.get(who[0])
	lead.store.down.Store(true)
	g.advanceChecking(12 * time.Second)
	if fs := lead.node.eng.FailsafeStatus(); !fs.Active {
		t.Fatal("failsafe not active")
	}
	// Someone outside lbhc's rules overwrites the record.
	rec, _ := g.mem.Snapshot()
	_, ver, _ := g.mem.Get(context.Background())
	rec.Holder, rec.Term = "intruder", rec.Term+1
	if _, err := g.mem.Update(context.Background(), rec, ver); err != nil {
		t.Fatal(err)
	}
	lead.store.down.Store(false)
	start := g.clk.Now()
	for lead.node.lease.Valid() {
		g.clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		if g.clk.Now().Sub(start) > testTiming.RetryPeriod+200*time.Millisecond {
			t.Fatal("leader still valid a retry period after its renewal met a conflict")
		}
	}
}

// A node that promised does not acquire, even when it reaches the backend
// and the record is free, until its promise ends on its own clock.
func TestPromiseGateBlocksAcquisition(t *testing.T) {
	clk := newFakeClock()
	book, _ := OpenPromiseBook("", clk, nil, 0)
	if err := book.Give("a", 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	cfg := testTiming
	cfg.NodeID = "b"
	eng, err := NewEngine(cfg, NewCASBackend(NewReleasedMemoryStore(), "b", testTiming.LeaseTTL, clk), Options{Clock: clk, Promises: book})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	n := &testNode{eng: eng}
	for clk.Now().Before(time.Unix(1_000_000, 0).Add(9900 * time.Millisecond)) {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		n.drain()
		if n.lease.Valid() {
			t.Fatalf("acquired %s into a 10 s promise", clk.Now().Sub(time.Unix(1_000_000, 0)))
		}
	}
	clk.Advance(2*time.Second, 100*time.Millisecond)
	n.drain()
	if !n.lease.Valid() {
		t.Fatal("not leader after the promise ended")
	}
}
