package election

// Failsafe safety: kills, random faults, late replies, native leases.

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"
)

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
