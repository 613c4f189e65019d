package peer

import (
	"testing"
	"time"
)

func TestFresh(t *testing.T) {
	now := t0
	ns := func(d time.Duration) uint64 { return uint64(now.Add(d).UnixNano()) }
	const skew = 5 * time.Second
	for _, tc := range []struct {
		name      string
		last, seq uint64
		want      reason
	}{
		{"first message", 0, ns(0), accepted},
		{"newer", ns(-time.Second), ns(0), accepted},
		{"same sequence", ns(0), ns(0), reasonReplayed},
		{"older sequence", ns(0), ns(-time.Millisecond), reasonReplayed},
		{"future within skew", 0, ns(skew), accepted},
		{"past within skew", 0, ns(-skew), accepted},
		{"future beyond skew", 0, ns(skew + 1), reasonStale},
		{"past beyond skew", 0, ns(-skew - 1), reasonStale},
		{"sequence zero", 0, 0, reasonReplayed},
		{"sequence over int64", 0, 1 << 63, reasonStale},
		{"sequence max", 0, 1<<64 - 1, reasonStale},
	} {
		if got := fresh(tc.last, tc.seq, now, skew); got != tc.want {
			t.Errorf("%s: fresh = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestNextSeq: a sender's sequence increases strictly even when its clock
// stands still or steps back, and follows the clock otherwise.
func TestNextSeq(t *testing.T) {
	s := nextSeq(0, t0)
	if s != uint64(t0.UnixNano()) {
		t.Fatalf("first sequence %d, want the clock", s)
	}
	if got := nextSeq(s, t0); got != s+1 {
		t.Fatalf("same clock: %d, want %d", got, s+1)
	}
	if got := nextSeq(s, t0.Add(-time.Hour)); got != s+1 {
		t.Fatalf("clock stepped back: %d, want %d", got, s+1)
	}
	if got := nextSeq(s, t0.Add(time.Second)); got != uint64(t0.Add(time.Second).UnixNano()) {
		t.Fatalf("clock moved: %d", got)
	}
}
