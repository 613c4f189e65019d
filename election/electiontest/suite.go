// Package electiontest is the conformance suite every election backend
// passes: in-memory, file, Azure blob (Azurite), DynamoDB (dynalite) and
// etcd. It drives real Engines with the real clock against a shared lease
// and checks the safety and liveness rules that docs/SAFETY-TESTS.md lists.
package electiontest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

// Candidate is one contender on the shared lease.
type Candidate struct {
	Backend election.Backend
	// SetReachable cuts (false) or restores (true) this candidate's path to
	// the backend: while cut, every call fails as a network fault would
	// (or hangs until its context ends).
	SetReachable func(ok bool)
}

// Suite describes a backend under test.
type Suite struct {
	// New makes a candidate with the given node id on the suite's lease.
	// Every call within one subtest must contend for the same lease; a
	// fresh lease per subtest (lease name derived from t.Name()) keeps
	// subtests apart.
	New func(t *testing.T, lease, nodeID string) Candidate
	// Steal makes a stranger hold the lease right now, bypassing the
	// protocol as an operator or a bug would (break the blob lease, write
	// the record, delete the etcd key), so the holder's next renewal must
	// report ErrLeaseLost.
	Steal func(t *testing.T, lease string)
	// Delete removes the lease record (file, item, blob, key) while a
	// node may hold it, as an operator, a table TTL or a storage lifecycle
	// policy would. Nil: the backend has no such record; the case skips.
	Delete func(t *testing.T, lease string)
	// Store, for CAS-record backends, opens the record store of a lease
	// on its own: the StoreCompareAndSwap subtest checks the store's own
	// version check with CheckStore. Nil for native-lease backends.
	Store func(t *testing.T, lease string) election.Store
	// Timing for the engines. Zero: 1.5 s / 1 s / 250 ms.
	Timing election.Config
	// ReleaseTakeover bounds release → new leader. Zero: RetryPeriod + 500 ms.
	ReleaseTakeover time.Duration
	// Candidates contending. Zero: 3.
	Candidates int
}

func (s *Suite) defaults() {
	if s.Timing.LeaseTTL == 0 {
		s.Timing = election.Config{LeaseTTL: 1500 * time.Millisecond, RenewDeadline: time.Second, RetryPeriod: 250 * time.Millisecond}
	}
	if s.ReleaseTakeover == 0 {
		s.ReleaseTakeover = s.Timing.RetryPeriod + 500*time.Millisecond
	}
	if s.Candidates == 0 {
		s.Candidates = 3
	}
}

// Run runs every conformance test as a subtest.
func Run(t *testing.T, s Suite) {
	s.defaults()
	tests := []struct {
		name string
		fn   func(*testing.T, *Suite)
	}{
		{"MutualExclusionAndStability", testMutualExclusion},
		{"TakeoverOnlyAfterTTL", testTakeoverAfterTTL},
		{"ReleaseTakeover", testReleaseTakeover},
		{"TermsIncrease", testTermsIncrease},
		{"UnreachableLeaderSelfFences", testUnreachableLeader},
		{"OutageForAllThenRecovery", testOutageForAll},
		{"LostLeaseDemotesAtOnce", testLostLease},
	}
	// Native-lease backends (Azure blob lease) have no record that can
	// vanish under its holder: a leased blob cannot be deleted without
	// breaking the lease, which is LostLeaseDemotesAtOnce.
	if s.Delete != nil {
		tests = append(tests, struct {
			name string
			fn   func(*testing.T, *Suite)
		}{"DeletedRecordIsNotFree", testDeletedRecord})
	}
	if s.Store != nil {
		tests = append(tests, struct {
			name string
			fn   func(*testing.T, *Suite)
		}{"StoreCompareAndSwap", testStoreCAS})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, &s) })
	}
}

func testStoreCAS(t *testing.T, s *Suite) {
	st := s.Store(t, leaseName(t))
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := CheckStore(ctx, st); err != nil {
		t.Fatal(err)
	}
}

// node is a running engine with its current lease.
type node struct {
	id     string
	c      Candidate
	eng    *election.Engine
	cancel context.CancelFunc
	done   chan struct{}

	cur     atomic.Pointer[election.Lease]
	mu      sync.Mutex
	elected []grant
	lost    []lostEv
}

type grant struct {
	term uint64
	at   time.Time
}

type lostEv struct {
	reason string
	at     time.Time
}

// group is a set of nodes on one lease plus an invariant sampler.
type group struct {
	t      *testing.T
	s      *Suite
	lease  string
	nodes  []*node
	stopS  chan struct{}
	sDone  chan struct{}
	maxVal atomic.Int32
	bad    atomic.Value // string: first violation
}

func newGroup(t *testing.T, s *Suite, n int) *group {
	g := &group{t: t, s: s, lease: leaseName(t), stopS: make(chan struct{}), sDone: make(chan struct{})}
	for i := range n {
		g.add(fmt.Sprintf("node-%d", i+1))
	}
	go g.sample()
	t.Cleanup(g.close)
	return g
}

func leaseName(t *testing.T) string {
	// Short, unique and valid for every backend (blob names, DynamoDB keys,
	// etcd prefixes): letters, digits and dashes.
	b := []byte{}
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b = append(b, byte(r))
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r-'A'+'a'))
		}
	}
	if len(b) > 40 {
		b = b[len(b)-40:]
	}
	return fmt.Sprintf("t%s-%d", b, time.Now().UnixNano()%1_000_000)
}

func (g *group) add(id string) *node {
	c := g.s.New(g.t, g.lease, id)
	cfg := g.s.Timing
	cfg.NodeID = id
	eng, err := election.NewEngine(cfg, c.Backend, election.Options{})
	if err != nil {
		g.t.Fatalf("NewEngine(%s): %v", id, err)
	}
	n := &node{id: id, c: c, eng: eng, done: make(chan struct{})}
	g.nodes = append(g.nodes, n)
	g.start(n)
	return n
}

func (g *group) start(n *node) {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.done = make(chan struct{})
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = n.eng.Run(ctx)
	}()
	go func() {
		defer close(n.done)
		for {
			select {
			case ev := <-n.eng.Events():
				n.mu.Lock()
				switch ev.Kind {
				case election.Elected:
					n.cur.Store(ev.Lease)
					n.elected = append(n.elected, grant{ev.Lease.Term, time.Now()})
				case election.Lost:
					n.cur.CompareAndSwap(ev.Lease, nil)
					n.lost = append(n.lost, lostEv{ev.Reason, time.Now()})
				}
				n.mu.Unlock()
			case <-runDone:
				return
			}
		}
	}()
}

// stop ends the node's engine without releasing, as a crash would: its
// lease stays valid for the rest of its deadline as far as the invariant
// sampler is concerned (the process is "gone" but we still count it as
// answering until the deadline, the worst case).
func (n *node) stop() {
	n.cancel()
	<-n.done
}

func (n *node) leading() bool { return n.cur.Load().Valid() }

func (g *group) sample() {
	defer close(g.sDone)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-g.stopS:
			return
		case <-tick.C:
		}
		var n int32
		var who []string
		for _, nd := range g.nodes {
			if nd.leading() {
				n++
				who = append(who, nd.id)
			}
		}
		if n > g.maxVal.Load() {
			g.maxVal.Store(n)
		}
		if n > 1 {
			g.bad.CompareAndSwap(nil, fmt.Sprintf("%d nodes held valid leases at %s: %v", n, time.Now().Format("15:04:05.000"), who))
		}
	}
}

func (g *group) close() {
	select {
	case <-g.stopS:
	default:
		close(g.stopS)
		<-g.sDone
	}
	for _, n := range g.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.eng.Release(ctx, 0)
		cancel()
		n.stop()
		_ = n.c.Backend.Close()
	}
	if b, ok := g.bad.Load().(string); ok {
		g.t.Errorf("mutual exclusion violated: %s", b)
	}
}

func (g *group) leaders() []*node {
	var out []*node
	for _, n := range g.nodes {
		if n.leading() {
			out = append(out, n)
		}
	}
	return out
}

// waitLeader waits up to d for exactly one leader among the running nodes
// and returns it.
func (g *group) waitLeader(d time.Duration, exclude ...*node) *node {
	g.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for _, n := range g.leaders() {
			skip := false
			for _, x := range exclude {
				skip = skip || x == n
			}
			if !skip {
				return n
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	g.t.Fatalf("no leader within %s", d)
	return nil
}

func (g *group) invariant() {
	g.t.Helper()
	if b, ok := g.bad.Load().(string); ok {
		g.t.Fatalf("mutual exclusion violated: %s", b)
	}
}
