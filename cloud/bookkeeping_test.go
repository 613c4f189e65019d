package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The shared shell turns one ensure result into status, metrics and the
// returned error the same way for every action that uses it.
func TestShellBookkeeping(t *testing.T) {
	m := NewMetrics(nil)
	s := Shell{Name: "x", What: "thing", Prefix: "x id-1", Log: slog.New(slog.DiscardHandler), M: m, St: NewStatusBox("x")}
	ev := Event{Term: 3}
	ensure := func(changed bool, err error) EnsureFunc {
		return func(context.Context, Event, *slog.Logger) (bool, string, error) { return changed, "d", err }
	}
	counter := func() (fail, repair, verified float64) {
		return testutil.ToFloat64(m.failures.WithLabelValues("x")), testutil.ToFloat64(m.repairs.WithLabelValues("x")),
			testutil.ToFloat64(m.verified.WithLabelValues("x"))
	}

	if err := s.Promote(context.Background(), ev, ensure(true, nil)); err != nil {
		t.Fatal(err)
	}
	if st := s.St.Get(); st.State != "ok" || st.Detail != "d" || st.LastVerified.IsZero() {
		t.Fatalf("after promote: %+v", st)
	}
	if f, r, v := counter(); f != 0 || r != 0 || v != 1 {
		t.Fatalf("after promote: failures %v repairs %v verified %v", f, r, v)
	}

	if repaired, err := s.Monitor(context.Background(), ev, ensure(true, nil)); !repaired || err != nil {
		t.Fatalf("monitor that wrote: %v %v", repaired, err)
	}
	if st := s.St.Get(); st.State != "repaired" {
		t.Fatalf("after repair: %+v", st)
	}
	if _, r, _ := counter(); r != 1 {
		t.Fatalf("repairs %v, want 1", r)
	}

	boom := errors.New("boom")
	_, err := s.Monitor(context.Background(), ev, ensure(false, boom))
	if !errors.Is(err, boom) || err.Error() != "x id-1: boom" {
		t.Fatalf("monitor error %v", err)
	}
	if st := s.St.Get(); st.State != "failed" || st.LastError != "boom" {
		t.Fatalf("after failure: %+v", st)
	}
	if f, _, v := counter(); f != 1 || v != 0 {
		t.Fatalf("after failure: failures %v verified %v", f, v)
	}

	// Leadership ending under the action is no failure of it.
	if err := s.Promote(context.Background(), ev, ensure(false, fmt.Errorf("moved: %w", ErrNotLeader))); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("promote without leadership: %v", err)
	}
	if st := s.St.Get(); st.State != "idle" {
		t.Fatalf("after losing leadership: %+v", st)
	}
	if f, _, _ := counter(); f != 1 {
		t.Fatalf("failures %v after ErrNotLeader, want still 1", f)
	}

	if _, _, v := counter(); v != 0 {
		t.Fatalf("verified %v after the failed check, want 0 until a pass verifies again", v)
	}
	if err := s.Promote(context.Background(), ev, ensure(false, nil)); err != nil {
		t.Fatal(err)
	}
	if _, _, v := counter(); v != 1 {
		t.Fatalf("verified %v after a verified promote", v)
	}
	if err := s.Demote(); err != nil || s.St.Get().State != "idle" || s.St.Get().Detail != "not leading" {
		t.Fatalf("demote: %v %+v", err, s.St.Get())
	}
	if f, r, v := counter(); f != 1 || r != 1 || v != 0 {
		t.Fatalf("after demote: failures %v repairs %v verified %v, want 1 1 0", f, r, v)
	}
}

// A monitor pass that wrote but could not verify is a failure, not a repair.
func TestShellWriteThenFailIsNoRepair(t *testing.T) {
	m := NewMetrics(nil)
	s := Shell{Name: "x", What: "thing", Prefix: "x", Log: slog.New(slog.DiscardHandler), M: m, St: NewStatusBox("x")}
	fail := func(context.Context, Event, *slog.Logger) (bool, string, error) {
		return true, "d", errors.New("verify: still elsewhere")
	}
	if repaired, err := s.Monitor(context.Background(), Event{Term: 1}, fail); !repaired || err == nil {
		t.Fatalf("monitor = %v, %v; want wrote and failed", repaired, err)
	}
	if r := testutil.ToFloat64(m.repairs.WithLabelValues("x")); r != 0 {
		t.Fatalf("repairs %v, want 0", r)
	}
	if f := testutil.ToFloat64(m.failures.WithLabelValues("x")); f != 1 {
		t.Fatalf("failures %v, want 1", f)
	}
	if st := s.St.Get(); st.State != "failed" || st.Detail != "d" {
		t.Fatalf("status %+v", st)
	}
}
