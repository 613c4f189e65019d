package agent

import (
	"testing"
	"time"
)

func TestTickInterval(t *testing.T) {
	for _, tc := range []struct {
		reconcile, monitor, idle, want time.Duration
	}{
		{5 * time.Second, 10 * time.Second, 0, 5 * time.Second}, // defaults: no 1 s wake-up
		{5 * time.Second, 2 * time.Second, 0, 2 * time.Second},
		{5 * time.Second, 10 * time.Second, 8 * time.Second, 2 * time.Second},
		{10 * time.Millisecond, time.Second, 0, 50 * time.Millisecond}, // floor
	} {
		a := &Agent{cfg: Config{ReconcileInterval: tc.reconcile, MonitorInterval: tc.monitor, ProbeIdleTimeout: tc.idle}}
		if got := a.tickInterval(); got != tc.want {
			t.Errorf("tickInterval(%v, %v, %v) = %v, want %v", tc.reconcile, tc.monitor, tc.idle, got, tc.want)
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
