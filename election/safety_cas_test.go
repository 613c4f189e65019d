package election

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Property tests of the CAS lease algorithm against its timing and safety
// rules (docs/SAFETY-TESTS.md), driven without goroutines: a manual clock,
// one memory store, and store calls whose request and reply each take a
// random time.

// slowStore delays every call on the shared manual clock: the request takes
// before, the reply after (a slow or distant backend).
type slowStore struct {
	Store
	clk           *fakeClock
	before, after func() time.Duration
}

func (s *slowStore) wait(d time.Duration) {
	s.clk.mu.Lock()
	s.clk.now = s.clk.now.Add(d)
	s.clk.mu.Unlock()
}

func (s *slowStore) Get(ctx context.Context) (Record, string, error) {
	s.wait(s.before())
	defer s.wait(s.after())
	return s.Store.Get(ctx)
}

func (s *slowStore) Create(ctx context.Context, r Record) (string, error) {
	s.wait(s.before())
	defer s.wait(s.after())
	return s.Store.Create(ctx, r)
}

func (s *slowStore) Update(ctx context.Context, r Record, prev string) (string, error) {
	s.wait(s.before())
	defer s.wait(s.after())
	return s.Store.Update(ctx, r, prev)
}

// modelNode is one process on the shared lease, holding the engine's view
// of its grant: valid until the send time of its last successful
// acquire/renew plus its renew-deadline.
type modelNode struct {
	id      string
	cfg     Config
	b       *casBackend
	holding bool
	until   time.Time
}

// TestPropertyCASNeverTwoValidHolders runs random operations (acquire,
// renew, release, silence, time passing) over nodes with different TTLs and
// with duplicated node ids (cloned hosts, a restarted process whose old copy
// is only paused), with slow store round trips, and checks after every step:
//   - at no instant do two nodes hold a grant that is still valid by their
//     own deadline (deadline = send time + renew-deadline);
//   - every new grant has a term above every earlier grant's (release,
//     expiry and takeover alike).
func TestPropertyCASNeverTwoValidHolders(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runCASModel(t, seed) })
	}
}

func runCASModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 23))
	clk := newFakeClock()
	lat := func() time.Duration { return time.Duration(rng.IntN(400)) * time.Millisecond }
	store := &slowStore{Store: NewReleasedMemoryStore(), clk: clk, before: lat, after: lat}
	// TTLs differ by node: a follower with a short TTL must still wait
	// out the holder's longer one. Two nodes share id "a".
	specs := []struct {
		id  string
		ttl time.Duration
	}{{"a", 15 * time.Second}, {"a", 6 * time.Second}, {"b", 30 * time.Second}, {"c", 3 * time.Second}}
	var nodes []*modelNode
	for _, s := range specs {
		cfg := Config{NodeID: s.id, LeaseTTL: s.ttl, RenewDeadline: s.ttl * 2 / 3, RetryPeriod: s.ttl / 8}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &modelNode{id: s.id, cfg: cfg, b: NewCASBackend(store, s.id, s.ttl, clk).(*casBackend)})
	}
	ctx := context.Background()
	var lastTerm uint64
	var history []string
	for step := range 400 {
		n := nodes[rng.IntN(len(nodes))]
		now := clk.Now()
		if n.holding && !now.Before(n.until) {
			n.holding = false // self-fenced at its deadline
		}
		op := rng.IntN(10)
		switch {
		case op < 4 && !n.holding:
			sent := clk.Now()
			st, err := n.b.TryAcquire(ctx, false)
			if err != nil {
				t.Fatalf("acquire: %v", err)
			}
			if st.Held {
				history = append(history, fmt.Sprintf("%s@%s grant term %d", n.id, sent.Sub(time.Unix(1_000_000, 0)), st.Term))
				if st.Term <= lastTerm {
					t.Fatalf("seed %d step %d: grant term %d not above earlier term %d\n%v", seed, step, st.Term, lastTerm, history)
				}
				lastTerm = st.Term
				if !clk.Now().Before(sent.Add(n.cfg.RenewDeadline)) {
					// The engine hands back a grant that arrives after its deadline.
					if err := n.b.Release(ctx); err != nil {
						t.Fatalf("release: %v", err)
					}
					history = append(history, n.id+" released a late grant")
					break
				}
				n.holding, n.until = true, sent.Add(n.cfg.RenewDeadline)
				checkOneValid(t, seed, step, nodes, n, clk.Now(), history)
			}
		case op < 7 && n.holding:
			sent := clk.Now()
			st, err := n.b.TryAcquire(ctx, true)
			switch {
			case errors.Is(err, ErrLeaseLost):
				n.holding = false
			case err != nil:
				t.Fatalf("renew: %v", err)
			default:
				if st.Term != lastTerm {
					t.Fatalf("seed %d: renewal reports term %d, current grant is %d", seed, st.Term, lastTerm)
				}
				if clk.Now().Before(n.until) {
					n.until = sent.Add(n.cfg.RenewDeadline)
				} else {
					n.holding = false // the engine fenced while the reply was on its way
				}
			}
		case op == 7 && n.holding:
			n.holding = false
			if err := n.b.Release(ctx); err != nil {
				t.Fatalf("release: %v", err)
			}
			history = append(history, n.id+" released")
		default:
			// Time passes: short, or long enough for a TTL to run out.
			d := time.Duration(rng.IntN(1500)) * time.Millisecond
			if rng.IntN(8) == 0 {
				d = time.Duration(rng.IntN(35)) * time.Second
			}
			store.wait(d)
		}
	}
}

// checkOneValid: at now, when got's grant arrived and it starts to lead, no
// other node may still hold a grant valid by its own deadline.
func checkOneValid(t *testing.T, seed uint64, step int, nodes []*modelNode, got *modelNode, now time.Time, history []string) {
	t.Helper()
	for _, o := range nodes {
		if o != got && o.holding && now.Before(o.until) {
			t.Fatalf("seed %d step %d: %s (ttl %s) was granted while %s (ttl %s) was valid for %s more\n%v",
				seed, step, got.id, got.cfg.LeaseTTL, o.id, o.cfg.LeaseTTL, o.until.Sub(now), history)
		}
	}
}

// A follower whose own TTL is shorter than the holder's waits out the
// holder's: the record carries the holder's TTL and the follower waits the
// longer of the two, on its own clock, from when it first saw the version.
func TestFollowerWaitsOutHoldersLongerTTL(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	holder := NewCASBackend(store, "h", 30*time.Second, clk)
	follower := NewCASBackend(store, "f", 5*time.Second, clk)
	ctx := context.Background()
	if st, err := holder.TryAcquire(ctx, false); err != nil || !st.Held {
		t.Fatalf("holder acquire: %+v %v", st, err)
	}
	if rec, ok := store.Snapshot(); !ok || rec.TTL != 30*time.Second {
		t.Fatalf("record carries TTL %s, want the holder's 30s", rec.TTL)
	}
	seen := clk.Now()
	for clk.Now().Sub(seen) < 30*time.Second {
		st, err := follower.TryAcquire(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if st.Held {
			t.Fatalf("follower (ttl 5s) took the lease %s after it first saw the holder's (ttl 30s) record", clk.Now().Sub(seen))
		}
		if st.Leader != "h" {
			t.Fatalf("follower observes leader %q, want h", st.Leader)
		}
		clk.Advance(time.Second, time.Second)
	}
	if st, err := follower.TryAcquire(ctx, false); err != nil || !st.Held || st.Term != 2 {
		t.Fatalf("follower after the holder's full TTL: %+v %v, want a grant with term 2", st, err)
	}
	// The other way round, the follower's own longer TTL counts.
	long := NewCASBackend(store, "l", 40*time.Second, clk)
	seen = clk.Now()
	for clk.Now().Sub(seen) < 40*time.Second {
		if st, _ := long.TryAcquire(ctx, false); st.Held {
			t.Fatalf("follower (ttl 40s) took the lease after %s, before its own TTL", clk.Now().Sub(seen))
		}
		clk.Advance(time.Second, time.Second)
	}
}

// A record that names this node's own id is not free at once: it may be
// held by a clone with the same hostname or by this node's previous process,
// which is only paused. The new process waits out the TTL like any follower,
// and its grant then gets a new, higher term.
func TestOwnIDRecordIsNotFreeAtOnce(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	ctx := context.Background()
	old := NewCASBackend(store, "a", 15*time.Second, clk)
	if st, err := old.TryAcquire(ctx, false); err != nil || !st.Held {
		t.Fatalf("first acquire: %+v %v", st, err)
	}
	restarted := NewCASBackend(store, "a", 15*time.Second, clk)
	seen := clk.Now()
	for clk.Now().Sub(seen) < 15*time.Second {
		st, err := restarted.TryAcquire(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if st.Held {
			t.Fatalf("a record holding our own id was taken %s after it was seen, before the TTL", clk.Now().Sub(seen))
		}
		_, free, _ := restarted.(Peeker).Peek(ctx)
		if free {
			t.Fatal("Peek reports a record with our own id free before the TTL")
		}
		clk.Advance(500*time.Millisecond, 500*time.Millisecond)
	}
	st, err := restarted.TryAcquire(ctx, false)
	if err != nil || !st.Held || st.Term != 2 {
		t.Fatalf("after the TTL: %+v %v, want a grant with term 2", st, err)
	}
	// The paused original resumes: its renewal must fail as lost.
	if _, err := old.TryAcquire(ctx, true); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("old process renewing after the takeover: %v, want ErrLeaseLost", err)
	}
}
