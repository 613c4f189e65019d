package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// levelCounter counts log records by level.
type levelCounter struct {
	mu sync.Mutex
	n  map[slog.Level]int
}

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	c.n[r.Level]++
	c.mu.Unlock()
	return nil
}
func (c *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *levelCounter) WithGroup(string) slog.Handler      { return c }
func (c *levelCounter) count(l slog.Level) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[l]
}

// A failing backend is seen: one warn per change of reason (not one per
// retry), a counter by reason, BackendFailing for readiness; one info line
// and a clear state when it recovers.
func TestBackendErrorsAreSeen(t *testing.T) {
	clk := newFakeClock()
	store := NewMemoryStore()
	if _, err := store.Create(context.Background(), Record{Holder: "x", Term: 1, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	logs := &levelCounter{n: map[slog.Level]int{}}
	reg := prometheus.NewRegistry()
	cfg := testTiming
	cfg.NodeID = "a"
	eng, err := NewEngine(cfg, NewCASBackend(store, "a", cfg.LeaseTTL, clk), Options{Clock: clk, Logger: slog.New(logs), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	defer func() { cancel(); <-done }()

	clk.Advance(time.Second, 50*time.Millisecond)
	if s := eng.Status(); s.BackendFailing != "" || s.Leader != "x" {
		t.Fatalf("healthy follower: %+v", s)
	}
	store.SetFault(func(context.Context, string) error { return fmt.Errorf("dial: %w", errors.New("connection refused")) })
	for range 5 {
		clk.Advance(cfg.RetryPeriod, 50*time.Millisecond)
	}
	if s := eng.Status(); s.BackendFailing != ReasonUnavailable {
		t.Fatalf("while failing: %+v", s)
	}
	if n := logs.count(slog.LevelWarn); n != 1 {
		t.Fatalf("%d warn lines over 5 failures of one reason, want 1", n)
	}
	if v := testutil.ToFloat64(eng.health.errs.WithLabelValues(ReasonUnavailable)); v < 4 {
		t.Fatalf("errors counted: %v, want >= 4", v)
	}
	if v := testutil.ToFloat64(eng.health.up); v != 0 {
		t.Fatalf("lbhc_lease_backend_up %v while failing", v)
	}
	store.SetFault(func(context.Context, string) error { return fmt.Errorf("%w: test", ErrCorrupt) })
	for range 3 {
		clk.Advance(cfg.RetryPeriod, 50*time.Millisecond)
	}
	if n := logs.count(slog.LevelWarn); n != 2 || eng.Status().BackendFailing != ReasonCorrupt {
		t.Fatalf("after a change of reason: %d warn lines, failing %q; want 2, corrupt", n, eng.Status().BackendFailing)
	}
	infos := logs.count(slog.LevelInfo)
	store.SetFault(nil)
	clk.Advance(cfg.RetryPeriod, 50*time.Millisecond)
	if s := eng.Status(); s.BackendFailing != "" || s.LastError != "" {
		t.Fatalf("after recovery: %+v", s)
	}
	if logs.count(slog.LevelInfo) != infos+1 || testutil.ToFloat64(eng.health.up) != 1 {
		t.Fatal("recovery not logged once at info or gauge not back to 1")
	}
}
