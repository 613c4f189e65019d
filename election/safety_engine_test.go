package election

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Property tests of the engine's timing rules (README, "Timing and the
// failover bound"; docs/SAFETY-TESTS.md) with a manual clock and a store the
// test holds on to.

// heldStore lets a test hold the next call of one kind: the call records
// the clock at the moment it was sent, then waits until the test lets it
// answer, as a slow backend would.
type heldStore struct {
	*MemoryStore
	clk *fakeClock

	mu      sync.Mutex
	holdOp  string         // "create" or "update"; "" = none
	sentAt  chan time.Time // receives the send time of the held call
	release chan struct{}  // closed by the test to let it answer
}

func newHeldStore(clk *fakeClock) *heldStore {
	s := &heldStore{MemoryStore: NewReleasedMemoryStore(), clk: clk}
	s.SetFault(func(ctx context.Context, op string) error {
		s.mu.Lock()
		hold := s.holdOp == op
		sentAt, release := s.sentAt, s.release
		if hold {
			s.holdOp = ""
		}
		s.mu.Unlock()
		if !hold {
			return nil
		}
		sentAt <- clk.Now()
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	return s
}

// hold makes the next call of op wait; it returns the channel that reports
// its send time and the function that lets it answer.
func (s *heldStore) hold(op string) (<-chan time.Time, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdOp = op
	s.sentAt = make(chan time.Time, 1)
	release := make(chan struct{})
	s.release = release
	return s.sentAt, func() { close(release) }
}

func waitSent(t *testing.T, c <-chan time.Time, what string) time.Time {
	t.Helper()
	select {
	case at := <-c:
		return at
	case <-time.After(5 * time.Second):
		t.Fatalf("the engine never sent the %s", what)
		return time.Time{}
	}
}

// advanceUntilSent moves the clock in 100 ms steps, giving the engine real
// time between them, until the held call is sent.
func advanceUntilSent(t *testing.T, clk *fakeClock, c <-chan time.Time, what string) time.Time {
	t.Helper()
	for range 200 {
		select {
		case at := <-c:
			return at
		case <-time.After(20 * time.Millisecond):
		}
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
	}
	t.Fatalf("the engine never sent the %s", what)
	return time.Time{}
}

// waitFor polls cond in real time (the engine runs on its own goroutine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// Leadership validity counts from when the acquire/renew request was sent,
// not from when its reply arrived: with a store that answers 3 s late, the
// deadline is send + renew-deadline, 3 s earlier than reply + renew-deadline.
func TestDeadlineCountsFromSendWithLateStore(t *testing.T) {
	clk := newFakeClock()
	store := newHeldStore(clk)
	sent, answer := store.hold("update") // the acquire: a released record is updated
	n := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	acqSent := waitSent(t, sent, "acquire")
	const late = 3 * time.Second
	clk.Advance(late, late)
	// Hold the first renewal too, so the grant's own deadline can be read
	// before any renewal moves it.
	renewSentC, answerRenew := store.hold("update")
	answer()
	var l *Lease
	waitFor(t, "the grant", func() bool {
		select {
		case ev := <-n.eng.Events():
			l = ev.Lease
		default:
		}
		return l != nil
	})
	if got, want := l.Deadline(), acqSent.Add(testTiming.RenewDeadline); !got.Equal(want) {
		t.Fatalf("grant deadline = acquire sent + %s, want + renew-deadline %s (reply came %s after sending)",
			got.Sub(acqSent), testTiming.RenewDeadline, late)
	}

	// A renewal that answers late: the deadline moves to its send time +
	// renew-deadline.
	renewSent := advanceUntilSent(t, clk, renewSentC, "renewal")
	clk.Advance(late, late)
	old := l.Deadline()
	_, answerNext := store.hold("update") // the next renewal waits: only this one moves the deadline
	defer answerNext()
	answerRenew()
	waitFor(t, "the renewal to extend the deadline", func() bool { return !l.Deadline().Equal(old) })
	if got, want := l.Deadline(), renewSent.Add(testTiming.RenewDeadline); !got.Equal(want) {
		t.Fatalf("renewed deadline = renew sent + %s, want + renew-deadline %s (reply came %s after sending)",
			got.Sub(renewSent), testTiming.RenewDeadline, late)
	}
	if st := n.eng.Status(); !st.Deadline.Equal(l.Deadline()) {
		t.Fatalf("Status().Deadline %v differs from the lease's %v", st.Deadline, l.Deadline())
	}
}

// Two engines with the same node id (hosts cloned with one hostname, or a
// restarted process while the old one is only paused) are two contenders:
// never both leaders, and the second does not treat the record naming its
// own id as free.
func TestTwoEnginesWithOneNodeID(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	first := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	waitFor(t, "the first engine to lead", func() bool { first.drain(); return first.lease.Valid() })
	second := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	nodes := []*testNode{first, second}
	for range 100 {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		if n := leaders(nodes); n > 1 {
			t.Fatalf("two engines with node id a both lead at %s", clk.Now())
		}
	}
	second.drain()
	if len(second.events) != 0 {
		t.Fatalf("second engine with the holder's id got %v while the holder renews", second.events)
	}
	// The first process freezes (its calls hang): the second takes over
	// only after the TTL, never while the first's deadline lasts.
	frozen := first.lease.Deadline()
	first.cancel()
	for range 300 {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		if leaders([]*testNode{second}) == 1 {
			if clk.Now().Before(frozen) {
				t.Fatalf("second engine leads at %s, before the first's deadline %s", clk.Now(), frozen)
			}
			if second.lease.Term <= first.lease.Term {
				t.Fatalf("takeover term %d not above %d", second.lease.Term, first.lease.Term)
			}
			return
		}
	}
	t.Fatal("second engine never took over after the first froze")
}

// A lost lease (the record was taken) demotes at the next renewal: the Lost
// event comes one retry period after the theft at most, long before the
// deadline a transient error would wait for.
func TestLostLeaseDemotesAtOnce(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	n := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	waitFor(t, "leadership", func() bool { n.drain(); return n.lease.Valid() })
	l := n.lease
	rec, ver, err := store.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(context.Background(), Record{Holder: "stranger", Term: rec.Term + 1, TTL: time.Hour}, ver); err != nil {
		t.Fatal(err)
	}
	stolen := clk.Now()
	deadline := l.Deadline()
	for l.Valid() {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	if took := clk.Now().Sub(stolen); took > testTiming.RetryPeriod+200*time.Millisecond {
		t.Fatalf("lost lease ended %s after the theft (retry period %s, deadline in %s): treated as transient",
			took, testTiming.RetryPeriod, deadline.Sub(stolen))
	}
	var lost *Event
	waitFor(t, "the Lost event", func() bool {
		n.drain()
		for i := range n.events {
			if n.events[i].Kind == Lost {
				lost = &n.events[i]
			}
		}
		return lost != nil
	})
	if lost.Lease != l {
		t.Fatal("Lost event names another lease")
	}
	if st := n.eng.Status(); st.Leading || st.Leader == "a" {
		t.Fatalf("status after the loss %+v: still names this node", st)
	}
	if rec, _ := store.Snapshot(); rec.Holder != "stranger" {
		t.Fatalf("holder %q after the loss: the loser must not write the record", rec.Holder)
	}
}

// Configuration bounds: renew-deadline < lease-ttl and 1.2 x retry-period <
// renew-deadline, all positive, checked exactly at the boundaries.
func TestConfigBoundsExact(t *testing.T) {
	ok := Config{NodeID: "a", LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	mod := func(f func(*Config)) Config { c := ok; f(&c); return c }
	cases := []struct {
		name string
		cfg  Config
		flag string // "" = valid
	}{
		{"defaults", ok, ""},
		{"zero ttl", mod(func(c *Config) { c.LeaseTTL = 0 }), "lease-ttl"},
		{"zero renew-deadline", mod(func(c *Config) { c.RenewDeadline = 0 }), "renew-deadline"},
		{"negative renew-deadline", mod(func(c *Config) { c.RenewDeadline = -time.Second }), "renew-deadline"},
		{"zero retry", mod(func(c *Config) { c.RetryPeriod = 0 }), "retry-period"},
		{"negative retry", mod(func(c *Config) { c.RetryPeriod = -time.Second }), "retry-period"},
		{"renew-deadline = ttl", mod(func(c *Config) { c.RenewDeadline = c.LeaseTTL }), "renew-deadline"},
		{"renew-deadline just below ttl", mod(func(c *Config) { c.RenewDeadline = c.LeaseTTL - time.Nanosecond }), ""},
		{"1.2 x retry = renew-deadline", mod(func(c *Config) {
			c.RetryPeriod = 5 * time.Second
			c.RenewDeadline = 6 * time.Second
			c.LeaseTTL = 7 * time.Second
		}), "retry-period"},
		{"1.2 x retry just below renew-deadline", mod(func(c *Config) {
			c.RetryPeriod = 5 * time.Second
			c.RenewDeadline = 6*time.Second + time.Nanosecond
			c.LeaseTTL = 7 * time.Second
		}), ""},
		{"1 ns everything", Config{NodeID: "a", LeaseTTL: 3, RenewDeadline: 2, RetryPeriod: 1}, ""},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		var ce *ConfigError
		switch {
		case c.flag == "" && err != nil:
			t.Errorf("%s: %v, want valid", c.name, err)
		case c.flag != "" && (!errors.As(err, &ce) || ce.Flag != c.flag):
			t.Errorf("%s: %v, want a ConfigError naming --%s", c.name, err, c.flag)
		}
		if _, err2 := NewEngine(c.cfg, NewNoneBackend("a"), Options{}); (err2 == nil) != (err == nil) {
			t.Errorf("%s: NewEngine error %v disagrees with Validate %v", c.name, err2, err)
		}
	}
}

// opLog records the clock time and node of every store operation.
type opLog struct {
	mu  sync.Mutex
	ops []loggedOp
}

type loggedOp struct {
	op string
	at time.Time
}

func (o *opLog) add(op string, at time.Time) {
	o.mu.Lock()
	o.ops = append(o.ops, loggedOp{op, at})
	o.mu.Unlock()
}

func (o *opLog) count(op string, from, to time.Time) (n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, x := range o.ops {
		if x.op == op && !x.at.Before(from) && x.at.Before(to) {
			n++
		}
	}
	return n
}

// loggingStore logs every operation of one node with the clock time.
type loggingStore struct {
	Store
	clk *fakeClock
	log *opLog
}

func (s *loggingStore) Get(ctx context.Context) (Record, string, error) {
	s.log.add("get", s.clk.Now())
	return s.Store.Get(ctx)
}

func (s *loggingStore) Update(ctx context.Context, r Record, prev string) (string, error) {
	s.log.add("update", s.clk.Now())
	return s.Store.Update(ctx, r, prev)
}

// The cadences pace both roles: a leader renews once per renew interval, and a
// follower reads at most once per retry period (sooner only when the record's TTL
// runs out first), rather than hammering the backend.
func TestRetryPeriodPacesLeaderAndFollower(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	var leaderOps, followerOps opLog
	a := startNode(t, "a", NewCASBackend(&loggingStore{store, clk, &leaderOps}, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	waitFor(t, "leadership", func() bool { a.drain(); return a.lease.Valid() })
	startNode(t, "b", NewCASBackend(&loggingStore{store, clk, &followerOps}, "b", testTiming.LeaseTTL, clk), clk)
	from := clk.Now()
	const span = 12 * time.Second // shorter than the TTL: b never may take over
	clk.Advance(span, 100*time.Millisecond)
	to := clk.Now()
	periods := int(span / testTiming.RetryPeriod)
	// A leader on a remote store renews once per RenewInterval (cadence.go),
	// not every retry period: each renewal is paid for.
	renewals := int(span / RenewInterval(testTiming))
	if n := leaderOps.count("update", from, to); n < renewals || n > renewals+1 {
		t.Fatalf("leader renewed %d times in %s, want %d or %d (one per renew interval %s)", n, span, renewals, renewals+1, RenewInterval(testTiming))
	}
	if n := followerOps.count("get", from, to); n < periods-1 || n > periods+1 {
		t.Fatalf("follower read %d times in %s, want about %d (one per retry period %s)", n, span, periods, testTiming.RetryPeriod)
	}
	if !a.lease.Valid() {
		t.Fatal("leader lost its lease while renewing")
	}
}

// A crashed holder is replaced exactly one TTL after the follower first saw
// its last record version, on the follower's own clock: not earlier (safety),
// and not a retry period later either (the record's remaining TTL schedules
// the follower's next attempt).
func TestCrashTakeoverExactlyAfterTTL(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	var holderOps, followerOps opLog
	a := startNode(t, "a", NewCASBackend(&loggingStore{store, clk, &holderOps}, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	waitFor(t, "leadership", func() bool { a.drain(); return a.lease.Valid() })
	b := startNode(t, "b", NewCASBackend(&loggingStore{store, clk, &followerOps}, "b", testTiming.LeaseTTL, clk), clk)
	clk.Advance(3*time.Second, 100*time.Millisecond)
	a.cancel() // crash: no more renewals, no release
	time.Sleep(10 * time.Millisecond)
	holderOps.mu.Lock()
	lastWrite := holderOps.ops[len(holderOps.ops)-1].at
	holderOps.mu.Unlock()
	for range 300 {
		clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		if leaders([]*testNode{b}) == 1 {
			break
		}
	}
	if !b.lease.Valid() {
		t.Fatal("no takeover")
	}
	followerOps.mu.Lock()
	var firstSeen, took time.Time
	for _, x := range followerOps.ops {
		if x.op == "get" && firstSeen.IsZero() && !x.at.Before(lastWrite) {
			firstSeen = x.at
		}
		if x.op == "update" {
			took = x.at
		}
	}
	followerOps.mu.Unlock()
	wait := took.Sub(firstSeen)
	if wait < testTiming.LeaseTTL || wait > testTiming.LeaseTTL+200*time.Millisecond {
		t.Fatalf("takeover write %s after the follower first saw the last version, want the TTL %s (+ one clock step)", wait, testTiming.LeaseTTL)
	}
}

// After Release, this node no longer reports itself as leading or as the
// leader, and its lease is invalid at once.
func TestReleaseEndsLeadershipInStatus(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	a := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	waitFor(t, "leadership", func() bool { a.drain(); return a.lease.Valid() })
	if st := a.eng.Status(); !st.Leading || st.Leader != "a" || st.Term != a.lease.Term || !st.Deadline.Equal(a.lease.Deadline()) {
		t.Fatalf("leading status %+v, lease term %d", st, a.lease.Term)
	}
	if err := a.eng.Release(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if a.lease.Valid() {
		t.Fatal("lease valid after Release")
	}
	if st := a.eng.Status(); st.Leading || st.Leader == "a" {
		t.Fatalf("status after Release %+v: still names this node", st)
	}
	if rec, _ := store.Snapshot(); rec.Holder != "" {
		t.Fatalf("record holder %q after Release", rec.Holder)
	}
}

// heldElsewhere is a native-lease style backend whose lease another node
// always holds; it gives no RetryAfter hint (as etcd and Azure leases).
type heldElsewhere struct {
	clk *fakeClock
	log opLog
}

func (b *heldElsewhere) TryAcquire(ctx context.Context, renew bool) (State, error) {
	b.log.add("acquire", b.clk.Now())
	return State{Term: 7, Leader: "x"}, nil
}
func (b *heldElsewhere) Release(context.Context) error { return nil }
func (b *heldElsewhere) Close() error                  { return nil }

// Without a RetryAfter hint, a follower tries once per retry period.
func TestFollowerWithoutHintRetriesOncePerPeriod(t *testing.T) {
	clk := newFakeClock()
	b := &heldElsewhere{clk: clk}
	n := startNode(t, "a", b, clk)
	from := clk.Now()
	const span = 10 * time.Second
	clk.Advance(span, 100*time.Millisecond)
	periods := int(span / testTiming.RetryPeriod)
	if got := b.log.count("acquire", from, clk.Now()); got < periods-1 || got > periods+1 {
		t.Fatalf("%d acquire attempts in %s, want about %d (one per retry period)", got, span, periods)
	}
	if st := n.eng.Status(); st.Leader != "x" || st.Term != 7 || st.Leading {
		t.Fatalf("status %+v, want the observed leader x at term 7", st)
	}
}

// Valid ends exactly at the deadline: valid one nanosecond before it, not
// at it (the deadline is the first instant the grant no longer covers).
func TestLeaseValidUntilExactlyTheDeadline(t *testing.T) {
	clk := newFakeClock()
	n := startNode(t, "a", NewCASBackend(NewReleasedMemoryStore(), "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(500*time.Millisecond, 100*time.Millisecond)
	waitFor(t, "leadership", func() bool { n.drain(); return n.lease.Valid() })
	l := n.lease
	set := func(at time.Time) {
		// Moving the clock without firing timers: the engine does not run,
		// as in a paused process; Valid must still tell.
		clk.mu.Lock()
		clk.now = at
		clk.mu.Unlock()
	}
	d := l.Deadline()
	set(d.Add(-time.Nanosecond))
	if !l.Valid() {
		t.Fatal("lease invalid 1 ns before its deadline")
	}
	set(d)
	if l.Valid() {
		t.Fatal("lease still valid at its deadline")
	}
}
