package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbhc/lbhc/check"
	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/vip"
)

// recorder keeps the order of side effects across the fake parts.
type recorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *recorder) add(op string) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ops...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.ops = nil
	r.mu.Unlock()
}

// fakeProbe records every argument with a safety meaning: the validity
// check the accept path runs, the deadline the kernel fence follows, and
// when the listener was closed.
type fakeProbe struct {
	r         *recorder
	mu        sync.Mutex
	listening bool
	valid     func() bool
	deadline  func() time.Time // as handed to Lead (nil: no deadline)
	followAt  time.Time        // last Follow
	idle      time.Duration    // what SinceLastProbe reports
	probed    bool             // what Probed reports
}

func (p *fakeProbe) Lead(valid func() bool, deadline func() time.Time) error {
	p.r.add("probe.lead")
	p.mu.Lock()
	p.listening, p.valid, p.deadline = true, valid, deadline
	p.mu.Unlock()
	return nil
}
func (p *fakeProbe) DeadlineMoved() {}
func (p *fakeProbe) Standby() error { return nil }
func (p *fakeProbe) Follow() {
	p.r.add("probe.follow")
	p.mu.Lock()
	p.listening, p.valid, p.deadline, p.followAt = false, nil, nil, time.Now()
	p.mu.Unlock()
}
func (p *fakeProbe) Close() {}
func (p *fakeProbe) Listening() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listening
}
func (p *fakeProbe) SinceLastProbe() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idle
}
func (p *fakeProbe) KernelFence() bool { return false }
func (p *fakeProbe) Probed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.probed
}

// answering reports what the real responder would do now: listen and pass
// the deadline check.
func (p *fakeProbe) answering() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listening && p.valid != nil && p.valid()
}

type fakeVIPs struct {
	r          *recorder
	failAdd    error
	reconciles atomic.Int32
}

func (v *fakeVIPs) Preflight(context.Context) error { v.r.add("vip.preflight"); return nil }
func (v *fakeVIPs) Cleanup(context.Context) error   { v.r.add("vip.cleanup"); return nil }
func (v *fakeVIPs) Add(context.Context) error {
	v.r.add("vip.add")
	return v.failAdd
}
func (v *fakeVIPs) Remove(context.Context) error           { v.r.add("vip.remove"); return nil }
func (v *fakeVIPs) Reconcile(context.Context) (int, error) { v.reconciles.Add(1); return 0, nil }
func (v *fakeVIPs) Status() []vip.AddrStatus               { return nil }

type fakeAction struct {
	r        *recorder
	fail     error
	monitors atomic.Int32
	monLeft  atomic.Int64 // time left on the last Monitor call's context, ns
}

func (a *fakeAction) Name() string { return "fake" }
func (a *fakeAction) Promote(_ context.Context, ev cloud.Event) error {
	if ev.Valid == nil || !ev.Valid() {
		return cloud.ErrNotLeader
	}
	a.r.add(fmt.Sprintf("action.promote(term=%d)", ev.Term))
	return a.fail
}
func (a *fakeAction) Monitor(ctx context.Context, _ cloud.Event) (bool, error) {
	a.monitors.Add(1)
	if dl, ok := ctx.Deadline(); ok {
		a.monLeft.Store(int64(time.Until(dl)))
	}
	return false, nil
}
func (a *fakeAction) Demote(context.Context, cloud.Event) error {
	a.r.add("action.demote")
	return nil
}
func (a *fakeAction) Status() cloud.Status { return cloud.Status{Name: "fake", State: "ok"} }

type fakeHealth struct {
	mu      sync.Mutex
	healthy bool
	ch      chan bool
}

func (h *fakeHealth) Run(ctx context.Context) { <-ctx.Done() }
func (h *fakeHealth) Healthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.healthy
}
func (h *fakeHealth) Changes() <-chan bool   { return h.ch }
func (h *fakeHealth) Status() []check.Status { return nil }
func (h *fakeHealth) set(ok bool) {
	h.mu.Lock()
	h.healthy = ok
	h.mu.Unlock()
	h.ch <- ok
}

var timing = election.Config{LeaseTTL: 600 * time.Millisecond, RenewDeadline: 400 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}

type harness struct {
	t      *testing.T
	a      *Agent
	r      *recorder
	probe  *fakeProbe
	store  *election.MemoryStore
	reg    *prometheus.Registry
	logs   *levelCounter
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func newHarness(t *testing.T, store *election.MemoryStore, cfg Config, vips *fakeVIPs, act *fakeAction, h Health) *harness {
	t.Helper()
	var acts []cloud.Action
	if act != nil {
		acts = []cloud.Action{act}
	}
	return newHarnessWith(t, store, cfg, vips, acts, h)
}

func newHarnessWith(t *testing.T, store *election.MemoryStore, cfg Config, vips *fakeVIPs, acts []cloud.Action, h Health) *harness {
	t.Helper()
	return newHarnessPeers(t, store, cfg, vips, acts, h, nil)
}

// newHarnessPeers is newHarnessWith with a member of an in-memory peer
// bus (peers_test.go); bus nil = no peer channel.
func newHarnessPeers(t *testing.T, store *election.MemoryStore, cfg Config, vips *fakeVIPs, acts []cloud.Action, h Health, bus *memBus) *harness {
	t.Helper()
	r := vips.r
	if cfg.NodeID == "" {
		cfg.NodeID = "a"
	}
	cfg.Timing, cfg.Election = timing, "memory"
	cfg.Timing.NodeID = cfg.NodeID
	cfg.AdminAddress = "127.0.0.1:0"
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.MonitorInterval == 0 {
		cfg.MonitorInterval = time.Hour
	}
	if cfg.ReconcileInterval == 0 {
		cfg.ReconcileInterval = time.Hour
	}
	reg := prometheus.NewRegistry()
	backend := election.NewCASBackend(store, cfg.NodeID, timing.LeaseTTL, nil)
	opts := election.Options{Registerer: reg}
	var link *PeerLink
	if bus != nil {
		link = bus.prepare(t, cfg, backend, &opts)
	}
	eng, err := election.NewEngine(cfg.Timing, backend, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProbe{r: r}
	parts := Parts{Engine: eng, Probe: p, VIPs: vips, Actions: acts}
	if link != nil {
		link.Bind(bus.node(cfg.NodeID), eng)
		parts.Peers = link
	}
	if h != nil {
		parts.Health = h
	}
	var out slog.Handler = slog.NewTextHandler(io.Discard, nil)
	if testing.Verbose() {
		out = slog.NewTextHandler(os.Stderr, nil)
	}
	logs := &levelCounter{next: out}
	a, err := New(cfg, parts, slog.New(logs), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{t: t, a: a, r: r, probe: p, store: store, reg: reg, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { hs.done <- a.Run(ctx) }()
	t.Cleanup(hs.stop)
	select {
	case <-a.Ready():
	case err := <-hs.done:
		t.Fatalf("agent stopped at start: %v", err)
	}
	return hs
}

func (h *harness) stop() {
	h.once.Do(func() {
		h.cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			h.t.Error("agent did not stop")
		}
	})
}

func (h *harness) waitRole(role string, d time.Duration) {
	h.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if h.a.currentRole() == role {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("role %s, want %s within %s (ops %v)", h.a.currentRole(), role, d, h.r.list())
}

func TestPromoteAndShutdownOrder(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	r := &recorder{}
	h := newHarness(t, store, Config{}, &fakeVIPs{r: r}, &fakeAction{r: r}, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	want := []string{"vip.preflight", "vip.cleanup", "vip.add", "action.promote(term=1)", "probe.lead"}
	if got := h.r.list(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("promote order %v, want %v", got, want)
	}
	if testutil.ToFloat64(h.a.m.isLeader) != 1 || testutil.ToFloat64(h.a.m.term) != 1 {
		t.Fatal("metrics do not show leader term 1")
	}
	h.r.reset()
	h.stop()
	want = []string{"probe.follow", "action.demote", "vip.remove"}
	if got := h.r.list(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("shutdown order %v, want %v", got, want)
	}
	if rec, _ := store.Snapshot(); rec.Holder != "" {
		t.Fatalf("lease not released on shutdown: holder %q", rec.Holder)
	}
}

func TestPromoteFailureUndoesAndReleases(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	r := &recorder{}
	h := newHarness(t, store, Config{}, &fakeVIPs{r: r}, &fakeAction{r: r, fail: errors.New("route table busy")}, nil)
	end := time.Now().Add(2 * time.Second)
	for testutil.ToFloat64(h.a.m.promoteFailures.WithLabelValues("fake")) < 1 && time.Now().Before(end) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	got := strings.Join(h.r.list(), ",")
	if !strings.HasPrefix(got, "vip.preflight,vip.cleanup,vip.add,action.promote(term=1),probe.follow,action.demote,vip.remove") {
		t.Fatalf("ops %s: want the promotion undone in reverse", got)
	}
	if strings.Contains(got, "probe.lead") {
		t.Fatal("probe opened although a promote step failed")
	}
	if rec, _ := store.Snapshot(); rec.Holder != "" {
		t.Fatalf("lease not released after the failed promotion: holder %q", rec.Holder)
	}
	if h.a.currentRole() != RoleFollower {
		t.Fatalf("role %s after a failed promotion", h.a.currentRole())
	}
	// Backoff: the next attempt comes no sooner than twice the retry period
	// (without backoff it would come one retry period later).
	failed := time.Now()
	for strings.Count(strings.Join(h.r.list(), ","), "vip.add") < 2 && time.Since(failed) < 2*time.Second {
		time.Sleep(2 * time.Millisecond)
	}
	if d := time.Since(failed); d < 2*timing.RetryPeriod-30*time.Millisecond {
		t.Fatalf("promotion retried %s after the failure, without backing off", d)
	}
}

func TestCloudFailurePolicyContinue(t *testing.T) {
	r := &recorder{}
	h := newHarness(t, election.NewReleasedMemoryStore(), Config{CloudFailureContinue: true}, &fakeVIPs{r: r}, &fakeAction{r: r, fail: errors.New("throttled")}, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	if !h.probe.answering() {
		t.Fatal("leader with --cloud-failure-policy continue does not answer")
	}
}

func TestVIPFailureNeverOpensProbe(t *testing.T) {
	r := &recorder{}
	h := newHarness(t, election.NewReleasedMemoryStore(), Config{}, &fakeVIPs{r: r, failAdd: errors.New("EPERM")}, nil, nil)
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(strings.Join(h.r.list(), ","), "probe.lead") || h.probe.answering() {
		t.Fatalf("probe opened although the VIP could not be added: %v", h.r.list())
	}
}

func TestLostLeaseDemotesWithoutRelease(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	r := &recorder{}
	h := newHarness(t, store, Config{}, &fakeVIPs{r: r}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	rec, ver, _ := store.Get(context.Background())
	if _, err := store.Update(context.Background(), election.Record{Holder: "stranger", Term: rec.Term + 1, TTL: time.Hour}, ver); err != nil {
		t.Fatal(err)
	}
	h.waitRole(RoleFollower, time.Second)
	if h.probe.answering() {
		t.Fatal("still answering after the lease was lost")
	}
	if rec, _ := store.Snapshot(); rec.Holder != "stranger" {
		t.Fatalf("holder %q: a node that lost its lease must not write it", rec.Holder)
	}
}

func TestBackendOutageSelfFences(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	r := &recorder{}
	h := newHarness(t, store, Config{}, &fakeVIPs{r: r}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	cut := time.Now()
	store.SetFault(func(ctx context.Context, op string) error { <-ctx.Done(); return ctx.Err() })
	for h.probe.answering() {
		if time.Since(cut) > timing.RenewDeadline {
			t.Fatalf("still answering %s after the backend stopped answering", time.Since(cut))
		}
		time.Sleep(time.Millisecond)
	}
	h.waitRole(RoleFollower, time.Second)
}

func TestUnhealthyLeaderHandsOver(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	r := &recorder{}
	health := &fakeHealth{healthy: true, ch: make(chan bool, 1)}
	h := newHarness(t, store, Config{}, &fakeVIPs{r: r}, nil, health)
	h.waitRole(RoleLeader, 2*time.Second)
	health.set(false)
	h.waitRole(RoleFollower, time.Second)
	if rec, _ := store.Snapshot(); rec.Holder != "" {
		t.Fatalf("unhealthy leader did not release: holder %q", rec.Holder)
	}
	// Alone and unhealthy, it takes the lease back only as a last resort,
	// 2 x lease-ttl after it saw it free.
	start := time.Now()
	h.waitRole(RoleLeader, 2*timing.LeaseTTL+time.Second)
	if d := time.Since(start); d < 2*timing.LeaseTTL-timing.RetryPeriod {
		t.Fatalf("unhealthy node retook the lease after %s, before its last-resort delay", d)
	}
}

func TestStandbyKeptAcrossRestartAndAdminAuth(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	dir := t.TempDir()
	r := &recorder{}
	h := newHarness(t, store, Config{StateDir: dir}, &fakeVIPs{r: r}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	resp, err := unixClient(filepath.Join(dir, "admin.sock")).Post("http://lbhc/standby", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /standby over the socket: %v %v", resp, err)
	}
	resp.Body.Close()
	h.waitRole(RoleStandby, time.Second)
	if _, err := os.Stat(filepath.Join(dir, "standby")); err != nil {
		t.Fatalf("standby not persisted: %v", err)
	}
	h.stop()

	h2 := newHarness(t, store, Config{StateDir: dir, AdminToken: "s3cret"}, &fakeVIPs{r: &recorder{}}, nil, nil)
	time.Sleep(3 * timing.RetryPeriod)
	if h2.a.currentRole() != RoleStandby || h2.probe.answering() {
		t.Fatalf("after restart role %s; want standby, not leading", h2.a.currentRole())
	}
	url := "http://" + h2.a.AdminAddr()
	resp, err = http.Post(url+"/resume", "", nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST /resume without token: %v %v; want 401", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/resume", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /resume with token: %v %v", resp, err)
	}
	resp.Body.Close()
	h2.waitRole(RoleLeader, 2*time.Second)
}

func TestStatusDocument(t *testing.T) {
	r := &recorder{}
	h := newHarness(t, election.NewReleasedMemoryStore(), Config{Priority: 2, ProbeProtocol: "tcp", ProbePorts: []int{26001}}, &fakeVIPs{r: r}, &fakeAction{r: r}, nil)
	h.waitRole(RoleLeader, 3*time.Second)
	resp, err := http.Get("http://" + h.a.AdminAddr() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`"node_id": "a"`, `"role": "leader"`, `"leader": "a"`, `"term": 1`, `"priority": 2`, `"name": "fake"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/status lacks %s:\n%s", want, body)
		}
	}
	resp, err = http.Get("http://" + h.a.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	for _, want := range []string{"lbhc_is_leader 1", "lbhc_term 1", "lbhc_leader_transitions_total 1", "lbhc_build_info{", "lbhc_lease_renew_duration_seconds_bucket"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestProbeWatchdog(t *testing.T) {
	for _, demote := range []bool{false, true} {
		t.Run(fmt.Sprintf("demote=%v", demote), func(t *testing.T) {
			store := election.NewReleasedMemoryStore()
			r := &recorder{}
			h := newHarness(t, store, Config{ProbeIdleTimeout: 200 * time.Millisecond, ProbeIdleDemote: demote}, &fakeVIPs{r: r}, nil, nil)
			h.waitRole(RoleLeader, 2*time.Second)
			// Probes arrive: not idle.
			time.Sleep(300 * time.Millisecond)
			if testutil.ToFloat64(h.a.m.probeIdle) != 0 {
				t.Fatal("idle reported while probes arrive")
			}
			// The load balancer stops probing.
			h.probe.mu.Lock()
			h.probe.idle = time.Hour
			h.probe.mu.Unlock()
			if demote {
				h.waitRole(RoleFollower, time.Second)
				if rec, _ := store.Snapshot(); rec.Holder != "" {
					t.Fatalf("idle demotion did not release: holder %q", rec.Holder)
				}
				return
			}
			end := time.Now().Add(time.Second)
			for testutil.ToFloat64(h.a.m.probeIdle) != 1 && time.Now().Before(end) {
				time.Sleep(10 * time.Millisecond)
			}
			if testutil.ToFloat64(h.a.m.probeIdle) != 1 {
				t.Fatal("lbhc_probe_idle not set after the timeout")
			}
			if h.a.currentRole() != RoleLeader {
				t.Fatal("warn mode demoted")
			}
		})
	}
}
