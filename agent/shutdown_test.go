package agent

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
)

// slowDemote is an action whose Demote takes a second and ignores its
// context, as a stuck cloud call or a hook without a timeout would.
type slowDemote struct {
	name    string
	started atomic.Int32
}

func (s *slowDemote) Name() string                                       { return s.name }
func (s *slowDemote) Promote(context.Context, cloud.Event) error         { return nil }
func (s *slowDemote) Monitor(context.Context, cloud.Event) (bool, error) { return false, nil }
func (s *slowDemote) Status() cloud.Status                               { return cloud.Status{Name: s.name, State: "ok"} }
func (s *slowDemote) Demote(context.Context, cloud.Event) error {
	s.started.Add(1)
	time.Sleep(time.Second)
	return nil
}

// SIGTERM (the Run context ending) with three slow demote actions: Run
// returns within --shutdown-timeout plus 100 ms, the slow steps are cut,
// the VIPs are removed and the lease is free at exit, so another node
// acquires it within one retry period instead of a lease TTL.
func TestShutdownBudgetWithSlowDemoteSteps(t *testing.T) {
	store := election.NewMemoryStore()
	r := &recorder{}
	acts := []cloud.Action{&slowDemote{name: "a1"}, &slowDemote{name: "a2"}, &slowDemote{name: "a3"}}
	const budget = 300 * time.Millisecond
	h := newHarnessWith(t, store, Config{ShutdownTimeout: budget}, &fakeVIPs{r: r}, acts, nil)
	h.waitRole(RoleLeader, 2*time.Second)

	// The other node campaigns all along.
	bcfg := timing
	bcfg.NodeID = "b"
	eng, err := election.NewEngine(bcfg, election.NewCASBackend(store, "b", timing.LeaseTTL, nil),
		election.Options{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	bctx, bstop := context.WithCancel(context.Background())
	defer bstop()
	go eng.Run(bctx)
	time.Sleep(2 * timing.RetryPeriod)

	var took time.Duration
	var exited time.Time
	h.once.Do(func() {
		start := time.Now()
		h.cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Fatal("agent did not stop")
		}
		exited = time.Now()
		took = exited.Sub(start)
	})
	if rec, _ := store.Snapshot(); rec.Holder != "" && rec.Holder != "b" {
		t.Fatalf("lease held by %q when the process exited", rec.Holder)
	}
	if took > budget+100*time.Millisecond {
		t.Fatalf("shutdown took %s; budget %s", took, budget)
	}
	ops := r.list()
	if len(ops) == 0 || ops[len(ops)-1] != "vip.remove" {
		t.Fatalf("VIPs not removed within the budget: %v", ops)
	}
	if n := acts[2].(*slowDemote).started.Load(); n != 1 {
		t.Fatalf("first demote step (reverse order) ran %d times", n)
	}
	select {
	case ev := <-eng.Events():
		if ev.Kind != election.Elected {
			t.Fatalf("other node got %v", ev.Kind)
		}
		if d := time.Since(exited); d > timing.RetryPeriod+50*time.Millisecond {
			t.Fatalf("other node acquired %s after the exit; want within one retry period", d)
		}
	case <-time.After(timing.RetryPeriod + 50*time.Millisecond):
		t.Fatalf("other node did not acquire within one retry period of the exit")
	}
}

// orderAction records when its Demote ends and its Promote starts.
type orderAction struct {
	demoteFor time.Duration // ignores its context, as a stuck call would
	mu        chan struct{} // 1-slot lock
	log       []string
	demoteEnd time.Time
	promotes  []time.Time
}

func (o *orderAction) Name() string                                       { return "order" }
func (o *orderAction) Monitor(context.Context, cloud.Event) (bool, error) { return false, nil }
func (o *orderAction) Status() cloud.Status                               { return cloud.Status{Name: "order", State: "ok"} }
func (o *orderAction) Promote(context.Context, cloud.Event) error {
	o.mu <- struct{}{}
	o.promotes = append(o.promotes, time.Now())
	<-o.mu
	return nil
}
func (o *orderAction) Demote(context.Context, cloud.Event) error {
	time.Sleep(o.demoteFor)
	o.mu <- struct{}{}
	o.demoteEnd = time.Now()
	<-o.mu
	return nil
}

// A lease lost while leading, with a demote step that outlives its budget:
// the step is cut, the node becomes follower, and when it wins the lease
// again the new term's promotion waits until the old step has returned.
func TestNewTermNeverOverlapsTheOld(t *testing.T) {
	store := election.NewMemoryStore()
	act := &orderAction{demoteFor: 1500 * time.Millisecond, mu: make(chan struct{}, 1)}
	h := newHarnessWith(t, store, Config{}, &fakeVIPs{r: &recorder{}}, []cloud.Action{act}, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	rec, ver, _ := store.Get(context.Background())
	// A stranger takes the record and never renews: this node takes the
	// lease back a lease TTL later, well before the stuck step returns.
	if _, err := store.Update(context.Background(), election.Record{Holder: "stranger", Term: rec.Term + 1, TTL: timing.LeaseTTL}, ver); err != nil {
		t.Fatal(err)
	}
	h.waitRole(RoleFollower, time.Second)
	h.waitRole(RoleLeader, 4*time.Second)
	act.mu <- struct{}{}
	defer func() { <-act.mu }()
	if len(act.promotes) != 2 || act.demoteEnd.IsZero() {
		t.Fatalf("promotes %d, demote ended %v", len(act.promotes), act.demoteEnd)
	}
	if act.promotes[1].Before(act.demoteEnd) {
		t.Fatalf("new term promoted %s before the old term's demote step returned", act.demoteEnd.Sub(act.promotes[1]))
	}
}

// A demote step that never comes back does not keep the lease from
// everyone: the next term waits one --shutdown-timeout for it, then gives
// the lease up (counted as a failed promotion at step "previous-term").
func TestStuckDemoteStepGivesTheLeaseUp(t *testing.T) {
	store := election.NewMemoryStore()
	act := &orderAction{demoteFor: 4 * time.Second, mu: make(chan struct{}, 1)}
	h := newHarnessWith(t, store, Config{}, &fakeVIPs{r: &recorder{}}, []cloud.Action{act}, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	rec, ver, _ := store.Get(context.Background())
	if _, err := store.Update(context.Background(), election.Record{Holder: "stranger", Term: rec.Term + 1, TTL: timing.LeaseTTL}, ver); err != nil {
		t.Fatal(err)
	}
	failed := h.a.m.promoteFailures.WithLabelValues("previous-term")
	end := time.Now().Add(3 * time.Second)
	for testutil.ToFloat64(failed) < 1 {
		if time.Now().After(end) {
			t.Fatal("the new term kept waiting for the stuck step")
		}
		time.Sleep(10 * time.Millisecond)
	}
	act.mu <- struct{}{}
	n := len(act.promotes)
	<-act.mu
	if n != 1 {
		t.Fatalf("%d promotions: the new term promoted while the old step was stuck", n)
	}
	time.Sleep(20 * time.Millisecond)
	if rec, _ := store.Snapshot(); rec.Holder == "a" {
		t.Fatal("lease kept while the stuck step runs")
	}
}
