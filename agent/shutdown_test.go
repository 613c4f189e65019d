package agent

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
