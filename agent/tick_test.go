package agent

import (
	"testing"
	"time"
)

func TestTickInterval(t *testing.T) {
	for _, tc := range []struct {
		reconcile, monitor, idle time.Duration
		lead, loop               time.Duration
	}{
		{5 * time.Second, 10 * time.Second, 0, 5 * time.Second, 0}, // defaults: no 1 s wake-up; the loop does not tick
		{5 * time.Second, 2 * time.Second, 0, 2 * time.Second, 0},
		{5 * time.Second, 10 * time.Second, 8 * time.Second, 5 * time.Second, 2 * time.Second},
		{10 * time.Millisecond, time.Second, 100 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}, // floors
	} {
		a := &Agent{cfg: Config{ReconcileInterval: tc.reconcile, MonitorInterval: tc.monitor, ProbeIdleTimeout: tc.idle}}
		if got := a.leadTick(); got != tc.lead {
			t.Errorf("leadTick(%v, %v) = %v, want %v", tc.reconcile, tc.monitor, got, tc.lead)
		}
		if got := a.tickInterval(); got != tc.loop {
			t.Errorf("tickInterval(idle %v) = %v, want %v", tc.idle, got, tc.loop)
		}
	}
}

func TestDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tick := 5 * time.Second
	for _, tc := range []struct {
		after time.Duration
		every time.Duration
		want  bool
	}{
		{5 * time.Second, 5 * time.Second, true},
		{5*time.Second - time.Millisecond, 5 * time.Second, true}, // an early tick still counts
		{5 * time.Second, 10 * time.Second, false},
		{10*time.Second - 3*time.Millisecond, 10 * time.Second, true},
	} {
		if got := due(t0.Add(tc.after), t0, tc.every, tick); got != tc.want {
			t.Errorf("due(+%v, every %v) = %v, want %v", tc.after, tc.every, got, tc.want)
		}
	}
}
