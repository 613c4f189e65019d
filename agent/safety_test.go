package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/election"
)

// Safety rules of the lifecycle (DESIGN.md), asserted on what the fake parts
// received and when, not on log wording.

// currentLease is the grant the agent leads on.
func (h *harness) currentLease() *election.Lease {
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	return h.a.lease
}

// The probe (and through it the kernel fence) receives the lease's real
// deadline, not a far-future one, and follows it as renewals move it; the
// accept-path check is the lease's own validity.
func TestProbeGetsTheLeasesRealDeadline(t *testing.T) {
	r := &recorder{}
	h := newHarness(t, election.NewMemoryStore(), Config{}, &fakeVIPs{r: r}, &fakeAction{r: r}, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	l := h.currentLease()
	h.probe.mu.Lock()
	deadline, valid := h.probe.deadline, h.probe.valid
	h.probe.mu.Unlock()
	if deadline == nil {
		t.Fatal("probe.Lead got no deadline: the kernel fence would never close on its own")
	}
	check := func(when string) {
		t.Helper()
		got, want := deadline(), l.Deadline()
		if !got.Equal(want) {
			t.Fatalf("%s: probe deadline %s from now, lease deadline %s", when, time.Until(got), time.Until(want))
		}
		if left := time.Until(got); left > timing.RenewDeadline {
			t.Fatalf("%s: probe deadline %s away, more than renew-deadline %s", when, left, timing.RenewDeadline)
		}
	}
	check("at promotion")
	first := l.Deadline()
	for end := time.Now().Add(time.Second); l.Deadline().Equal(first) && time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
	}
	if l.Deadline().Equal(first) {
		t.Fatal("no renewal moved the deadline within a second")
	}
	check("after a renewal")
	if !valid() || !l.Valid() {
		t.Fatal("probe's validity check disagrees with the lease while leading")
	}
	// The accept-path check is the lease's own: when the lease ends, it
	// says so at once.
	rctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = h.a.p.Engine.Release(rctx, time.Hour)
	if valid() {
		t.Fatal("probe's validity check still true after the lease ended")
	}
}

// A lost lease demotes at once: the probe listener closes before the
// lease's deadline (a transient error would wait for it), the demote steps
// run in order — probe, cloud actions, VIPs — and the lease is not written.
func TestLostLeaseDemotesBeforeDeadlineInOrder(t *testing.T) {
	store := election.NewMemoryStore()
	r := &recorder{}
	h := newHarness(t, store, Config{}, &fakeVIPs{r: r}, &fakeAction{r: r}, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	rec, ver, err := store.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.reset()
	if _, err := store.Update(context.Background(), election.Record{Holder: "stranger", Term: rec.Term + 1, TTL: time.Hour}, ver); err != nil {
		t.Fatal(err)
	}
	stolen := time.Now()
	deadline := h.currentLease().Deadline()
	h.waitRole(RoleFollower, timing.RenewDeadline+time.Second)
	h.probe.mu.Lock()
	followAt := h.probe.followAt
	h.probe.mu.Unlock()
	if !followAt.Before(deadline) {
		t.Fatalf("probe closed %s after the theft, %s after the lease's deadline: the loss waited for the deadline",
			followAt.Sub(stolen), followAt.Sub(deadline))
	}
	want := []string{"probe.follow", "action.demote", "vip.remove"}
	if got := r.list(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("demote order %v, want %v", got, want)
	}
	if rec, _ := store.Snapshot(); rec.Holder != "stranger" {
		t.Fatalf("holder %q: a node that lost its lease must not write it", rec.Holder)
	}
}

// A backend outage: the leader stops answering by its deadline (self-fence)
// and closes the probe listener no later than just after it.
func TestOutageClosesProbeByDeadline(t *testing.T) {
	store := election.NewMemoryStore()
	r := &recorder{}
	h := newHarness(t, store, Config{}, &fakeVIPs{r: r}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	store.SetFault(func(ctx context.Context, op string) error { <-ctx.Done(); return ctx.Err() })
	deadline := h.currentLease().Deadline()
	h.waitRole(RoleFollower, timing.RenewDeadline+time.Second)
	h.probe.mu.Lock()
	followAt := h.probe.followAt
	h.probe.mu.Unlock()
	// The last renewal before the cut may have moved the deadline a little
	// after we read it: allow one retry period, plus scheduling.
	if late := followAt.Sub(deadline); late > timing.RetryPeriod+100*time.Millisecond {
		t.Fatalf("probe closed %s after the deadline during an outage", late)
	}
}

// Defaults that carry timing meaning: priority 1 campaigns at once, a
// lower priority waits (p-1) x (retry-period + 500 ms), the shutdown budget
// is the renew-deadline; explicit values are kept.
func TestConfigDefaults(t *testing.T) {
	eng, err := election.NewEngine(election.Config{NodeID: "a", LeaseTTL: timing.LeaseTTL, RenewDeadline: timing.RenewDeadline, RetryPeriod: timing.RetryPeriod},
		election.NewNoneBackend("a"), election.Options{})
	if err != nil {
		t.Fatal(err)
	}
	parts := Parts{Engine: eng, Probe: &fakeProbe{r: &recorder{}}}
	a, err := New(Config{NodeID: "a", Timing: timing}, parts, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c := a.cfg
	if c.Priority != 1 || c.PriorityStep != timing.RetryPeriod+500*time.Millisecond || c.MonitorInterval != 10*time.Second ||
		c.ReconcileInterval != 5*time.Second || c.ShutdownTimeout != timing.RenewDeadline {
		t.Fatalf("defaults %+v", c)
	}
	set := Config{NodeID: "a", Timing: timing, Priority: 3, PriorityStep: time.Second, MonitorInterval: time.Minute, ReconcileInterval: 2 * time.Second, ShutdownTimeout: 3 * time.Second}
	a, err = New(set, parts, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if c := a.cfg; c.Priority != 3 || c.PriorityStep != time.Second || c.MonitorInterval != time.Minute || c.ReconcileInterval != 2*time.Second || c.ShutdownTimeout != 3*time.Second {
		t.Fatalf("explicit values changed: %+v", c)
	}
	if _, err := New(set, Parts{Probe: parts.Probe}, nil, prometheus.NewRegistry()); err == nil {
		t.Fatal("New without an engine succeeded")
	}
}

// While leading, VIPs are reconciled and cloud actions verified once per
// their interval: not never, not on every tick.
func TestLeaderReconcilesAndMonitorsPerInterval(t *testing.T) {
	r := &recorder{}
	vips, act := &fakeVIPs{r: r}, &fakeAction{r: r}
	const every = 200 * time.Millisecond
	h := newHarness(t, election.NewMemoryStore(), Config{ReconcileInterval: every, MonitorInterval: every}, vips, act, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	v0, m0 := vips.reconciles.Load(), act.monitors.Load()
	const span = 1200 * time.Millisecond
	time.Sleep(span)
	want := int32(span / every)
	if n := vips.reconciles.Load() - v0; n < want/2 || n > want+2 {
		t.Fatalf("%d VIP reconciles in %s, want about %d (every %s)", n, span, want, every)
	}
	if n := act.monitors.Load() - m0; n < want/2 || n > want+2 {
		t.Fatalf("%d cloud checks in %s, want about %d (every %s)", n, span, want, every)
	}
}
