package election

// The failsafe test harness: nodes over one store, each with its own view
// of the backend, and a simulated peer channel on the fake clock.

import (
	"context"
	"errors"
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
