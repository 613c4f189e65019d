package election

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutStore is one node's view of a shared MemoryStore: while down, every
// call fails as a network error would (the backend is unreachable from
// this node only).
type cutStore struct {
	*MemoryStore
	down atomic.Bool
}

var errUnreachable = errors.New("dial tcp: connect: connection refused")

func (s *cutStore) Get(ctx context.Context) (Record, string, error) {
	if s.down.Load() {
		return Record{}, "", errUnreachable
	}
	return s.MemoryStore.Get(ctx)
}

func (s *cutStore) Create(ctx context.Context, r Record) (string, error) {
	if s.down.Load() {
		return "", errUnreachable
	}
	return s.MemoryStore.Create(ctx, r)
}

func (s *cutStore) Update(ctx context.Context, r Record, prev string) (string, error) {
	if s.down.Load() {
		return "", errUnreachable
	}
	return s.MemoryStore.Update(ctx, r, prev)
}

// fsNode is one member of a failsafe group in these tests.
type fsNode struct {
	id    string
	store *cutStore
	book  *PromiseBook
	node  *testNode
	done  chan struct{}
}

// fsGroup is a peer set over one store and a simulated peer channel: a
// request reaches a peer after delay (fake clock), the peer grants if it
// does not lead, and the grant comes back after delay again; drop(from,
// to) loses a message.
type fsGroup struct {
	t     *testing.T
	clk   *fakeClock
	mem   *MemoryStore
	p     time.Duration
	dir   string
	mu    sync.Mutex
	nodes map[string]*fsNode
	delay func() time.Duration
	drop  func(from, to string) bool
}

func newFSGroup(t *testing.T, ids ...string) *fsGroup {
	g := &fsGroup{t: t, clk: newFakeClock(), mem: NewReleasedMemoryStore(), p: DefaultFailsafePromise,
		dir: t.TempDir(), nodes: map[string]*fsNode{},
		delay: func() time.Duration { return 0 }, drop: func(string, string) bool { return false }}
	for _, id := range ids {
		g.start(id, &cutStore{MemoryStore: g.mem})
	}
	return g
}

func (g *fsGroup) start(id string, st *cutStore) *fsNode {
	g.t.Helper()
	book, err := OpenPromiseBook(PromiseFilePath(filepath.Join(g.dir), id), g.clk, g.clk.Now, 0)
	if err != nil {
		g.t.Fatal(err)
	}
	b := NewCASBackend(st, id, testTiming.LeaseTTL, g.clk)
	ExtendRecordTTL(b, g.p)
	n := &fsNode{id: id, store: st, book: book, done: make(chan struct{})}
	cfg := testTiming
	cfg.NodeID = id
	eng, err := NewEngine(cfg, b, Options{Clock: g.clk, Failsafe: fsHook{g, id}, Promises: book})
	if err != nil {
		g.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer close(n.done); _ = eng.Run(ctx) }()
	n.node = &testNode{eng: eng, cancel: cancel}
	g.t.Cleanup(func() { cancel(); <-n.done })
	g.mu.Lock()
	g.nodes[id] = n
	g.mu.Unlock()
	return n
}

// restart kills node id (no release) and starts it again from its state
// dir, as after a crash.
func (g *fsGroup) restart(id string) {
	g.mu.Lock()
	n := g.nodes[id]
	g.mu.Unlock()
	n.node.cancel()
	<-n.done
	if l := n.node.lease; l != nil {
		// A killed process answers no probe: its grant ends with it.
		l.end()
	}
	g.start(id, n.store)
}

func (g *fsGroup) get(id string) *fsNode {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes[id]
}

func (g *fsGroup) setDrop(f func(from, to string) bool) { g.mu.Lock(); g.drop = f; g.mu.Unlock() }
func (g *fsGroup) setDelay(f func() time.Duration)      { g.mu.Lock(); g.delay = f; g.mu.Unlock() }

func (g *fsGroup) net() (func(from, to string) bool, func() time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.drop, g.delay
}

// fakeSleep waits d on the fake clock (or until ctx ends).
func (g *fsGroup) fakeSleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := g.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

type fsHook struct {
	g    *fsGroup
	self string
}

func (h fsHook) Promise(ctx context.Context, term uint64) (time.Time, bool) {
	g := h.g
	g.mu.Lock()
	var peers []*fsNode
	var ids []string
	for id, n := range g.nodes {
		if id != h.self {
			peers = append(peers, n)
			ids = append(ids, id)
		}
	}
	g.mu.Unlock()
	r := NewPromiseRound(term, g.clk.Now(), g.p, ids)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func(p *fsNode) {
			defer wg.Done()
			drop, delay := g.net()
			if drop(h.self, p.id) || !g.fakeSleep(ctx, delay()) {
				return
			}
			// The peer's grant rule: not leading itself, persisted first.
			if p.node.eng.Status().Leading || p.book.Give(h.self, term, g.p) != nil {
				return
			}
			if drop(p.id, h.self) || !g.fakeSleep(ctx, delay()) {
				return
			}
			mu.Lock()
			r.Grant(p.id, term, g.p, g.clk.Now())
			mu.Unlock()
		}(p)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return r.Validity()
}

// leaders counts nodes whose lease is valid now.
func (g *fsGroup) leaders() (n int, who []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, x := range g.nodes {
		x.node.drain()
		if x.node.lease.Valid() {
			n++
			who = append(who, id)
		}
	}
	return n, who
}

func (g *fsGroup) advanceChecking(d time.Duration) {
	g.t.Helper()
	for moved := time.Duration(0); moved < d; moved += 100 * time.Millisecond {
		g.clk.Advance(100*time.Millisecond, 100*time.Millisecond)
		if n, who := g.leaders(); n > 1 {
			g.t.Fatalf("%s: two nodes believe they lead: %v", g.clk.Now().Format(time.StampMilli), who)
		}
	}
}

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

// The leader alone loses the backend; its peers reach it and see the
// record unchanged for far longer than lease-ttl + P, but they promised:
// no takeover while the leader holds promises. Then the leader is killed
// (SIGKILL: no release): a follower leads within P + lease-ttl (+ one
// retry period for the follower's read).
func TestFailsafeLeaderCutOffAloneThenKilled(t *testing.T) {
	g := newFSGroup(t, "a", "b", "c")
	g.advanceChecking(time.Second)
	_, who := g.leaders()
	lead := g.get(who[0])
	lead.store.down.Store(true)
	g.advanceChecking(60 * time.Second)
	if n, w := g.leaders(); n != 1 || w[0] != lead.id {
		t.Fatalf("leaders %v after 60 s cut off, want only %s", w, lead.id)
	}
	// Kill it: its probe stops answering at once.
	lead.node.cancel()
	<-lead.done
	lead.node.lease.end()
	g.mu.Lock()
	delete(g.nodes, lead.id)
	g.mu.Unlock()
	killed := g.clk.Now()
	bound := g.p + testTiming.LeaseTTL + testTiming.RetryPeriod
	for {
		g.advanceChecking(100 * time.Millisecond)
		if n, _ := g.leaders(); n == 1 {
			break
		}
		if g.clk.Now().Sub(killed) > bound {
			t.Fatalf("no leader %s after the SIGKILL, bound P + lease-ttl + retry-period = %s", g.clk.Now().Sub(killed), bound)
		}
	}
	t.Logf("new leader %s after the kill", g.clk.Now().Sub(killed))
}

// The failsafe rule of the safety property: across random backend
// outages (per node), lost and delayed peer messages and peer restarts,
// at no instant do two nodes believe they lead.
func TestPropertyFailsafeNeverTwoLeaders(t *testing.T) {
	runs := 6
	if testing.Short() {
		runs = 3
	}
	for run := 0; run < runs; run++ {
		seed := int64(run*7919 + 1)
		rng := rand.New(rand.NewSource(seed))
		var rmu sync.Mutex
		rnd := func(n int) int { rmu.Lock(); defer rmu.Unlock(); return rng.Intn(n) }
		g := newFSGroup(t, "a", "b", "c")
		lossPct := rnd(30)
		g.setDrop(func(string, string) bool { return rnd(100) < lossPct })
		maxDelay := rnd(3000) + 1
		g.setDelay(func() time.Duration { return time.Duration(rnd(maxDelay)) * time.Millisecond })
		for step := 0; step < 12; step++ {
			switch rnd(5) {
			case 0: // every node loses the backend
				for _, id := range []string{"a", "b", "c"} {
					g.get(id).store.down.Store(true)
				}
			case 1: // one node loses it
				g.get([]string{"a", "b", "c"}[rnd(3)]).store.down.Store(rnd(2) == 0)
			case 2: // backend back everywhere
				for _, id := range []string{"a", "b", "c"} {
					g.get(id).store.down.Store(false)
				}
			case 3: // a node restarts from its state dir
				g.restart([]string{"a", "b", "c"}[rnd(3)])
			case 4: // the leader alone loses the backend; the others reach it
				if _, who := g.leaders(); len(who) == 1 {
					for _, id := range []string{"a", "b", "c"} {
						g.get(id).store.down.Store(id == who[0])
					}
				}
			}
			g.advanceChecking(time.Duration(rnd(20000)+500) * time.Millisecond)
		}
		t.Logf("seed %d: loss %d%%, delay up to %d ms: never two leaders", seed, lossPct, maxDelay)
	}
}

// nativeFake is a native lease (etcd, Azure blob lease) in miniature: the
// server expires an unrenewed grant after ttl on its own, and a renewal of
// an expired grant is a lost lease.
type nativeFake struct {
	clk  *fakeClock
	ttl  time.Duration
	mu   sync.Mutex
	down bool
	// holder and until: the server's grant; term counts grants.
	holder string
	until  time.Time
	term   uint64
}

func (n *nativeFake) acquire(id string) (State, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return State{}, errUnreachable
	}
	now := n.clk.Now()
	if n.holder != "" && now.Before(n.until) {
		return State{Term: n.term, Leader: n.holder}, nil
	}
	n.term++
	n.holder, n.until = id, now.Add(n.ttl)
	return State{Held: true, Term: n.term, Leader: id}, nil
}

type nativeNode struct {
	*nativeFake
	id string
}

func (b nativeNode) TryAcquire(_ context.Context, renew bool) (State, error) {
	if !renew {
		return b.acquire(b.id)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return State{}, errUnreachable
	}
	now := b.clk.Now()
	if b.holder != b.id || !now.Before(b.until) {
		return State{}, fmt.Errorf("lease expired: %w", ErrLeaseLost)
	}
	b.until = now.Add(b.ttl)
	return State{Held: true, Term: b.term, Leader: b.id}, nil
}

func (b nativeNode) Release(context.Context) error { return nil }
func (b nativeNode) Close() error                  { return nil }

// grantAll promises every round in full, as peers that all answer at
// once, and records the terms it was asked for.
type grantAll struct {
	clk   Clock
	mu    sync.Mutex
	terms []uint64
}

func (g *grantAll) Promise(_ context.Context, term uint64) (time.Time, bool) {
	g.mu.Lock()
	g.terms = append(g.terms, term)
	g.mu.Unlock()
	return g.clk.Now().Add(DefaultFailsafePromise - PromiseMargin(DefaultFailsafePromise)), true
}

func (g *grantAll) lastTerm() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.terms) == 0 {
		return 0
	}
	return g.terms[len(g.terms)-1]
}

// A native lease that expired on the server during the outage is taken
// back when the backend returns, with a new term and no event; when
// someone else holds it by then, the leader demotes at once.
func TestFailsafeReacquiresExpiredNativeLease(t *testing.T) {
	for _, stolen := range []bool{false, true} {
		clk := newFakeClock()
		srv := &nativeFake{clk: clk, ttl: testTiming.LeaseTTL}
		cfg := testTiming
		cfg.NodeID = "a"
		hook := &grantAll{clk: clk}
		eng, err := NewEngine(cfg, nativeNode{srv, "a"}, Options{Clock: clk, Failsafe: hook})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = eng.Run(ctx) }()
		n := &testNode{eng: eng}
		clk.Advance(500*time.Millisecond, 100*time.Millisecond)
		n.drain()
		if !n.lease.Valid() || n.lease.Term != 1 {
			t.Fatalf("not leader of term 1")
		}
		srv.mu.Lock()
		srv.down = true
		srv.mu.Unlock()
		clk.Advance(40*time.Second, 100*time.Millisecond) // far past the server's TTL
		if !n.lease.Valid() {
			t.Fatal("demoted during the outage")
		}
		srv.mu.Lock()
		srv.down = false
		if stolen {
			srv.holder, srv.until, srv.term = "x", clk.Now().Add(time.Hour), srv.term+1
		}
		srv.mu.Unlock()
		clk.Advance(3*time.Second, 100*time.Millisecond)
		n.drain()
		if stolen {
			if n.lease.Valid() || len(n.events) != 2 || n.events[1].Kind != Lost {
				t.Fatalf("stolen: valid %v events %v, want Lost", n.lease.Valid(), n.events)
			}
		} else {
			if !n.lease.Valid() || len(n.events) != 1 || n.lease.CurrentTerm() != 2 || eng.Status().Term != 2 {
				t.Fatalf("re-acquired: valid %v events %v term %d/%d, want valid, no event, term 2",
					n.lease.Valid(), n.events, n.lease.CurrentTerm(), eng.Status().Term)
			}
			if eng.FailsafeStatus().Active {
				t.Fatal("failsafe still active after the re-acquisition")
			}
			if hook.lastTerm() != 1 {
				t.Fatalf("promises asked for term %d during the first outage, want 1", hook.lastTerm())
			}
			// The next outage asks the peers for the re-acquired term:
			// they have seen it and refuse an older one.
			srv.mu.Lock()
			srv.down = true
			srv.mu.Unlock()
			clk.Advance(RenewInterval(testTiming)+time.Second, 100*time.Millisecond)
			if !n.lease.Valid() || hook.lastTerm() != 2 {
				t.Fatalf("second outage: valid %v, promises asked for term %d, want 2", n.lease.Valid(), hook.lastTerm())
			}
		}
		cancel()
		<-done
	}
}

// Replies take a second each way. The leader, cut off from the backend
// while its peer reaches it, then loses the peer channel too: its last
// belief (counted from before its request was sent) must end before the
// peer's promise (counted from receipt), at which instant the peer takes
// the long-unrenewed record at once.
func TestFailsafeBeliefCountsFromSendNotReply(t *testing.T) {
	g := newFSGroup(t, "a", "b")
	g.setDelay(func() time.Duration { return time.Second })
	g.advanceChecking(time.Second)
	_, who := g.leaders()
	lead := g.get(who[0])
	lead.store.down.Store(true)
	g.advanceChecking(40 * time.Second) // the peer has seen the record unchanged for > lease-ttl + P
	if !lead.node.lease.Valid() {
		t.Fatal("leader demoted while its peer promised")
	}
	g.setDrop(func(string, string) bool { return true })
	g.advanceChecking(2 * DefaultFailsafePromise)
	if n, w := g.leaders(); n != 1 || w[0] == lead.id {
		t.Fatalf("leaders %v after the channel was lost, want the peer alone", w)
	}
}
