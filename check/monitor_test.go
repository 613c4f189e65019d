package check

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// switchCheck is a test double whose result the test sets.
type switchCheck struct {
	name string
	fail atomic.Pointer[error] // nil = healthy
	runs atomic.Int64
	hang atomic.Bool // block until ctx ends
}

func (c *switchCheck) Name() string { return c.name }

func (c *switchCheck) Run(ctx context.Context) error {
	c.runs.Add(1)
	if c.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if p := c.fail.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *switchCheck) setErr(err error) {
	if err == nil {
		c.fail.Store(nil)
		return
	}
	c.fail.Store(&err)
}

func waitFor(t *testing.T, ch <-chan bool, want bool, within time.Duration) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("Changes() sent %v, want %v", got, want)
		}
	case <-time.After(within):
		t.Fatalf("no change to %v within %v", want, within)
	}
}

func startMonitor(t *testing.T, m *Monitor) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	})
}

func TestMonitorRiseFall(t *testing.T) {
	a, b := &switchCheck{name: "a"}, &switchCheck{name: "b"}
	reg := prometheus.NewRegistry()
	cfg := Config{Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond, Fall: 3, Rise: 2}
	m := NewMonitor([]Check{a, b}, cfg, nil, reg)
	if m.Healthy() {
		t.Fatal("healthy before any result")
	}
	for _, s := range m.Status() {
		if s.State != "unknown" || s.Healthy {
			t.Fatalf("initial status %+v, want unknown", s)
		}
	}
	if got := testutil.ToFloat64(m.met.all); got != 0 {
		t.Fatalf("lbhc_check_all_healthy = %v before any result", got)
	}
	startMonitor(t, m)

	// Rise: 2 successes each (≈ one interval) → healthy.
	waitFor(t, m.Changes(), true, 2*time.Second)
	if !m.Healthy() {
		t.Fatal("Changes sent true but Healthy() is false")
	}

	// One check fails: the node falls after 3 consecutive failures of it.
	b.setErr(errors.New("app down"))
	waitFor(t, m.Changes(), false, 2*time.Second)
	st := m.Status()
	if st[0].State != "healthy" || st[1].State != "unhealthy" || st[1].LastError != "app down" || st[1].Failures < 3 {
		t.Fatalf("status = %+v", st)
	}
	if got := testutil.ToFloat64(m.met.healthy.WithLabelValues("b")); got != 0 {
		t.Errorf("lbhc_check_healthy{check=b} = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.met.healthy.WithLabelValues("a")); got != 1 {
		t.Errorf("lbhc_check_healthy{check=a} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.met.failures.WithLabelValues("b")); got < 3 {
		t.Errorf("lbhc_check_failures_total{check=b} = %v, want ≥ 3", got)
	}
	if got := testutil.ToFloat64(m.met.all); got != 0 {
		t.Errorf("lbhc_check_all_healthy = %v, want 0", got)
	}

	// Recovery: rise again.
	b.setErr(nil)
	waitFor(t, m.Changes(), true, 2*time.Second)
	if got := testutil.ToFloat64(m.met.all); got != 1 {
		t.Errorf("lbhc_check_all_healthy = %v, want 1", got)
	}
	n, err := testutil.GatherAndCount(reg, "lbhc_check_healthy", "lbhc_check_failures_total", "lbhc_check_duration_seconds", "lbhc_check_all_healthy")
	if err != nil || n != 7 {
		t.Errorf("gathered %d series (err %v), want 7 (2+2+2+1)", n, err)
	}
}

func TestMonitorTimeout(t *testing.T) {
	c := &switchCheck{name: "slow"}
	c.hang.Store(true)
	m := NewMonitor([]Check{c}, Config{Interval: 50 * time.Millisecond, Timeout: 10 * time.Millisecond, Fall: 1, Rise: 1}, nil, nil)
	startMonitor(t, m)
	deadline := time.Now().Add(2 * time.Second)
	for m.Status()[0].Runs == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no result within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := m.Status()[0]
	if s.State != "unhealthy" || s.LastError != "timed out after 10ms: context deadline exceeded" {
		t.Errorf("status = %+v", s)
	}
	if s.LastDurationSeconds < 0.010 || s.LastDurationSeconds > 1 {
		t.Errorf("last duration %vs, want about the 10ms timeout", s.LastDurationSeconds)
	}
}

// A run cut short by the end of Run's context is not a failure.
func TestMonitorShutdownIsNotAFailure(t *testing.T) {
	c := &switchCheck{name: "hangs"}
	c.hang.Store(true)
	m := NewMonitor([]Check{c}, Config{Interval: 10 * time.Second, Timeout: 10 * time.Second, Fall: 1, Rise: 1}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for deadline := time.Now().Add(2 * time.Second); c.runs.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("check never started")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if s := m.Status()[0]; s.Runs != 0 || s.State != "unknown" {
		t.Errorf("status after shutdown = %+v, want no recorded run", s)
	}
}

func TestMonitorNoChecks(t *testing.T) {
	m := NewMonitor(nil, Config{}, nil, prometheus.NewRegistry())
	if !m.Healthy() {
		t.Error("a node without checks must be healthy")
	}
	if got := testutil.ToFloat64(m.met.all); got != 1 {
		t.Errorf("lbhc_check_all_healthy = %v, want 1", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	m.Run(ctx)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("Run returned after %v, before its context ended", d)
	}
	if len(m.Status()) != 0 {
		t.Error("Status() of no checks is not empty")
	}
}

// The node flips exactly on the Rise-th success and the Fall-th failure.
func TestMonitorFlipsOnRiseAndFall(t *testing.T) {
	a, b := &switchCheck{name: "a"}, &switchCheck{name: "b"}
	m := NewMonitor([]Check{a, b}, Config{Interval: time.Second, Timeout: time.Second, Fall: 3, Rise: 2}, nil, nil)
	ea, eb := m.entries[0], m.entries[1]
	fail := errors.New("down")
	steps := []struct {
		e    *entry
		err  error
		want string // "" no value on Changes, else "true"/"false"
	}{
		{ea, nil, ""}, {eb, nil, ""}, // 1 success each: still unknown
		{ea, nil, ""},     // a healthy, b not yet
		{eb, nil, "true"}, // both healthy
		{eb, fail, ""}, {eb, fail, ""},
		{eb, fail, "false"}, // third consecutive failure of b
		{eb, fail, ""},      // already unhealthy
		{eb, nil, ""},
		{eb, nil, "true"},
	}
	healthy := false
	for i, s := range steps {
		m.record(s.e, s.err, time.Now(), time.Millisecond)
		got := ""
		select {
		case v := <-m.Changes():
			got = map[bool]string{true: "true", false: "false"}[v]
		default:
		}
		if got != s.want {
			t.Fatalf("step %d: Changes() gave %q, want %q", i, got, s.want)
		}
		if got != "" {
			healthy = got == "true"
		}
		if m.Healthy() != healthy {
			t.Fatalf("step %d: Healthy() = %v, but the last value sent was %v", i, m.Healthy(), healthy)
		}
	}
}

// Flips the reader has not taken cancel out, so readers see alternating
// values that always match the current health.
func TestMonitorChangesCoalesce(t *testing.T) {
	c := &switchCheck{name: "c"}
	m := NewMonitor([]Check{c}, Config{Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1}, nil, nil)
	e := m.entries[0]
	now := time.Now()
	m.record(e, nil, now, time.Millisecond) // → healthy, sent
	m.record(e, errors.New("x"), now, time.Millisecond)
	m.record(e, nil, now, time.Millisecond) // cancels the pending false
	if got := <-m.Changes(); !got {
		t.Fatal("first value false")
	}
	select {
	case v := <-m.Changes():
		t.Fatalf("unexpected second value %v: the false/true pair should have cancelled", v)
	default:
	}
	m.record(e, errors.New("x"), now, time.Millisecond)
	m.record(e, nil, now, time.Millisecond)
	m.record(e, errors.New("x"), now, time.Millisecond) // pending false stays
	if got := <-m.Changes(); got || m.Healthy() {
		t.Fatalf("got %v, Healthy()=%v; want false, false", got, m.Healthy())
	}
}

func TestMonitorDuplicateNamesAndSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	var checks []Check
	for _, n := range []string{"http://h/x", "http://h/x #2", "http://h/x", "http://h/x"} {
		checks = append(checks, &switchCheck{name: n})
	}
	m := NewMonitor(checks, Config{}, nil, reg)
	var got []string
	for _, s := range m.Status() {
		got = append(got, s.Name)
	}
	if want := []string{"http://h/x", "http://h/x #2", "http://h/x #3", "http://h/x #4"}; !slices.Equal(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
	// A second Monitor on the same registry shares the collectors.
	m2 := NewMonitor([]Check{&switchCheck{name: "other"}}, Config{}, nil, reg)
	if m2.met.healthy != m.met.healthy {
		t.Error("second Monitor did not reuse the registered collectors")
	}
}

func TestMonitorConfigDefaults(t *testing.T) {
	m := NewMonitor(nil, Config{Interval: 500 * time.Millisecond, Timeout: time.Second}, nil, nil)
	want := Config{Interval: 500 * time.Millisecond, Timeout: 500 * time.Millisecond, Fall: 3, Rise: 2}
	if m.Config() != want {
		t.Errorf("Config() = %+v, want %+v", m.Config(), want)
	}
	if m := NewMonitor(nil, Config{}, nil, nil); m.Config() != DefaultConfig {
		t.Errorf("zero Config → %+v, want DefaultConfig", m.Config())
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"timeout equals interval", func(c *Config) { c.Timeout = c.Interval }, ""},
		{"zero interval", func(c *Config) { c.Interval = 0 }, "invalid --check-interval: must be greater than 0 (got 0s)"},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, "invalid --check-interval: must be greater than 0 (got -1s)"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "invalid --check-timeout: must be greater than 0 (got 0s)"},
		{"timeout above interval", func(c *Config) { c.Timeout = 2500 * time.Millisecond }, "invalid --check-timeout: 2.5s is longer than --check-interval 2s"},
		{"zero fall", func(c *Config) { c.Fall = 0 }, "invalid --check-fall: must be at least 1 (got 0)"},
		{"negative rise", func(c *Config) { c.Rise = -1 }, "invalid --check-rise: must be at least 1 (got -1)"},
	}
	for _, tt := range tests {
		c := ok
		tt.mod(&c)
		err := c.Validate()
		got := ""
		if err != nil {
			got = err.Error()
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.ExitCode() != 2 {
				t.Errorf("%s: %T is not a ConfigError with exit code 2", tt.name, err)
			}
		}
		if got != tt.want {
			t.Errorf("%s: Validate() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	m := NewMonitor([]Check{&switchCheck{name: "tcp://127.0.0.1:1"}}, Config{}, nil, nil)
	m.record(m.entries[0], errors.New("connect: refused"), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 1500*time.Millisecond)
	b, err := json.Marshal(m.Status())
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"tcp://127.0.0.1:1","state":"unhealthy","healthy":false,"last_error":"connect: refused",` +
		`"last_run":"2026-01-02T03:04:05Z","last_duration_seconds":1.5,"last_change":"2026-01-02T03:04:06.5Z",` +
		`"successes":0,"failures":1,"rise":2,"fall":3,"runs":1,"failures_total":1}]`
	if string(b) != want {
		t.Errorf("JSON:\n got  %s\n want %s", b, want)
	}
}

// End to end with a real TCP check: the application's port closes → the
// node is unhealthy within Interval × Fall (+ slack); it reopens → healthy.
func TestMonitorRealTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var mu sync.Mutex
	serve := func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}
	go serve(ln)
	t.Cleanup(func() { mu.Lock(); ln.Close(); mu.Unlock() })

	c, err := Parse("tcp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, Fall: 3, Rise: 2}
	m := NewMonitor([]Check{c}, cfg, nil, nil)
	startMonitor(t, m)
	waitFor(t, m.Changes(), true, 2*time.Second)

	mu.Lock()
	ln.Close()
	mu.Unlock()
	closed := time.Now()
	waitFor(t, m.Changes(), false, 2*time.Second)
	t.Logf("port closed → unhealthy after %v (interval %v × fall %d)", time.Since(closed), cfg.Interval, cfg.Fall)
	if d, limit := time.Since(closed), time.Duration(cfg.Fall)*cfg.Interval+500*time.Millisecond; d > limit {
		t.Errorf("detected after %v, want ≤ %v (interval × fall + 0.5s)", d, limit)
	}
	if s := m.Status()[0]; !strings.Contains(s.LastError, "connection refused") {
		t.Errorf("last error %q", s.LastError)
	}

	mu.Lock()
	ln, err = net.Listen("tcp", addr)
	mu.Unlock()
	if err != nil {
		t.Skipf("could not reopen %s for the recovery half: %v", addr, err)
	}
	go serve(ln)
	waitFor(t, m.Changes(), true, 2*time.Second)
}
