package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbhc/lbhc/election"
)

// Safety rules of the lifecycle (README, "How it works"), asserted on what
// the fake parts received and when, not on log wording.

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

// A repair may wait for propagation: a cloud check gets at least two
// minutes, even with a shorter monitor interval (a lost lease still ends it).
func TestMonitorGetsRepairTime(t *testing.T) {
	r := &recorder{}
	act := &fakeAction{r: r}
	h := newHarness(t, election.NewMemoryStore(), Config{MonitorInterval: 100 * time.Millisecond}, &fakeVIPs{r: r}, act, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	for end := time.Now().Add(time.Second); act.monitors.Load() == 0 && time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
	}
	if left := time.Duration(act.monLeft.Load()); left < time.Minute {
		t.Fatalf("cloud check got %s, want about 2 minutes", left)
	}
}

// fakeEngine records what the agent asks of the election engine.
type fakeEngine struct {
	mu       sync.Mutex
	eligible bool
	delay    time.Duration
}

func (e *fakeEngine) Run(ctx context.Context) error                { <-ctx.Done(); return ctx.Err() }
func (e *fakeEngine) Events() <-chan election.Event                { return nil }
func (e *fakeEngine) Status() election.Status                      { return election.Status{} }
func (e *fakeEngine) Release(context.Context, time.Duration) error { return nil }
func (e *fakeEngine) Candidates() election.Candidates              { return election.Candidates{} }
func (e *fakeEngine) SetEligible(ok bool) {
	e.mu.Lock()
	e.eligible = ok
	e.mu.Unlock()
}
func (e *fakeEngine) SetAcquireDelay(d time.Duration) {
	e.mu.Lock()
	e.delay = d
	e.mu.Unlock()
}

// Priority p waits (p-1) x step after seeing the lease free; an unhealthy
// node adds 2 x lease-ttl (last resort); standby does not campaign.
func TestEligibilityAndAcquireDelay(t *testing.T) {
	step := 700 * time.Millisecond
	for _, c := range []struct {
		priority int
		healthy  bool
		standby  bool
		want     time.Duration
	}{
		{1, true, false, 0},
		{3, true, false, 2 * step},
		{1, false, false, 2 * timing.LeaseTTL},
		{2, false, true, step + 2*timing.LeaseTTL},
	} {
		eng := &fakeEngine{}
		health := &fakeHealth{healthy: c.healthy, ch: make(chan bool)}
		a, err := New(Config{NodeID: "a", Timing: timing, Priority: c.priority, PriorityStep: step}, Parts{Engine: eng, Probe: &fakeProbe{r: &recorder{}}, Health: health}, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		a.standby = c.standby
		a.updateEligibility()
		if eng.delay != c.want || eng.eligible != !c.standby {
			t.Errorf("priority %d healthy %v standby %v: delay %s eligible %v, want %s %v", c.priority, c.healthy, c.standby, eng.delay, eng.eligible, c.want, !c.standby)
		}
	}
}

// Standby on a leader is a demotion: the probe closes, VIPs go, the lease
// is released. Resume makes a standby node a follower again.
func TestStandbyDemotesAndResumeFollows(t *testing.T) {
	store := election.NewMemoryStore()
	r := &recorder{}
	h := newHarness(t, store, Config{}, &fakeVIPs{r: r}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	other := newHarness(t, store, Config{NodeID: "b"}, &fakeVIPs{r: &recorder{}}, nil, nil)
	r.reset()
	if res := h.a.do(context.Background(), "standby"); res.status != 200 {
		t.Fatalf("standby: %+v", res)
	}
	if h.probe.answering() || h.a.currentRole() != RoleStandby {
		t.Fatalf("after standby: answering %v, role %s", h.probe.answering(), h.a.currentRole())
	}
	if got := strings.Join(r.list(), ","); got != "probe.follow,vip.remove" {
		t.Fatalf("standby demote steps %s", got)
	}
	if rec, _ := store.Snapshot(); rec.Holder == "a" {
		t.Fatal("standby did not release the lease")
	}
	other.waitRole(RoleLeader, 2*time.Second)
	if res := h.a.do(context.Background(), "resume"); res.status != 200 {
		t.Fatalf("resume: %+v", res)
	}
	if role := h.a.currentRole(); role != RoleFollower {
		t.Fatalf("role %s after resume while b leads, want follower", role)
	}
}

// --probe-idle-timeout 0 turns the watchdog off; an idle demotion sits out
// two lease TTLs instead of taking the lease straight back.
func TestWatchdogOffAndIdleSitOut(t *testing.T) {
	r := &recorder{}
	h := newHarness(t, election.NewMemoryStore(), Config{}, &fakeVIPs{r: r}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	h.probe.mu.Lock()
	h.probe.idle = time.Hour
	h.probe.mu.Unlock()
	h.a.watchdog()
	if testutil.ToFloat64(h.a.m.probeIdle) != 0 || h.a.currentRole() != RoleLeader {
		t.Fatal("watchdog acted although --probe-idle-timeout is 0")
	}

	r2 := &recorder{}
	h2 := newHarness(t, election.NewMemoryStore(), Config{ProbeIdleTimeout: 100 * time.Millisecond, ProbeIdleDemote: true}, &fakeVIPs{r: r2}, nil, nil)
	h2.waitRole(RoleLeader, 2*time.Second)
	h2.probe.mu.Lock()
	h2.probe.idle = time.Hour
	h2.probe.mu.Unlock()
	h2.waitRole(RoleFollower, 2*time.Second)
	demoted := time.Now()
	for time.Since(demoted) < timing.LeaseTTL {
		if h2.a.currentRole() == RoleLeader {
			t.Fatalf("leader again %s after an idle demotion, before sitting out", time.Since(demoted))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// levelCounter counts log records at warning level and above (it does not
// look at their wording) and passes every record on.
type levelCounter struct {
	next  slog.Handler
	warns atomic.Int32
}

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		c.warns.Add(1)
	}
	return c.next.Handle(ctx, r)
}
func (c *levelCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return &levelCounter{next: c.next.WithAttrs(as)} // not used by the agent
}
func (c *levelCounter) WithGroup(n string) slog.Handler {
	return &levelCounter{next: c.next.WithGroup(n)}
}

// A healthy lifecycle — promotion, VIP reconcile and cloud checks,
// operator standby and resume, shutdown — reports no warning or error:
// warnings are for faults only, so an operator can alert on them.
func TestHealthyLifecycleLogsNoWarnings(t *testing.T) {
	store := election.NewMemoryStore()
	r := &recorder{}
	h := newHarness(t, store, Config{ReconcileInterval: 100 * time.Millisecond, MonitorInterval: 100 * time.Millisecond, CloudFailureContinue: true},
		&fakeVIPs{r: r}, &fakeAction{r: r}, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	time.Sleep(300 * time.Millisecond) // reconcile and cloud checks run
	if res := h.a.do(context.Background(), "standby"); res.status != 200 {
		t.Fatalf("standby: %+v", res)
	}
	if res := h.a.do(context.Background(), "resume"); res.status != 200 {
		t.Fatalf("resume: %+v", res)
	}
	h.waitRole(RoleLeader, 2*time.Second)
	h.stop()
	if n := h.logs.warns.Load(); n != 0 {
		t.Fatalf("%d warnings or errors logged in a run without any fault", n)
	}
}

// A failed promotion logs exactly one error per failure; releasing the
// lease afterwards works and is not reported as a failure.
func TestFailedPromotionLogsOneErrorEach(t *testing.T) {
	r := &recorder{}
	h := newHarness(t, election.NewMemoryStore(), Config{}, &fakeVIPs{r: r}, &fakeAction{r: r, fail: errors.New("route table busy")}, nil)
	end := time.Now().Add(2 * time.Second)
	for testutil.ToFloat64(h.a.m.promoteFailures.WithLabelValues("fake")) < 1 && time.Now().Before(end) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	failures := testutil.ToFloat64(h.a.m.promoteFailures.WithLabelValues("fake"))
	if n := h.logs.warns.Load(); failures < 1 || float64(n) != failures {
		t.Fatalf("%d warnings or errors for %v failed promotions, want one each", n, failures)
	}
}
