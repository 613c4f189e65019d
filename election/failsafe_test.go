package election

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPromiseMarginAndEnd(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	const p = 10 * time.Second
	if m := PromiseMargin(p); m != 200*time.Millisecond {
		t.Fatalf("margin(10s) = %s, want 1%% + 100ms = 200ms", m)
	}
	cases := []struct {
		name    string
		granted time.Duration
		got     time.Duration // after t0
		want    time.Duration // end after t0; <0 = void
	}{
		{"full grant", p, 5 * time.Millisecond, p - 200*time.Millisecond},
		{"shorter grant", 4 * time.Second, time.Millisecond, 4*time.Second - 200*time.Millisecond},
		{"longer grant counts as asked", 2 * p, time.Millisecond, p - 200*time.Millisecond},
		{"answer just before the end", p, p - 201*time.Millisecond, p - 200*time.Millisecond},
		{"answer at the end is void", p, p - 200*time.Millisecond, -1},
		{"answer after expiry is void", p, 11 * time.Second, -1},
		{"zero grant is void", 0, time.Millisecond, -1},
		{"grant shorter than the margin is void", 150 * time.Millisecond, time.Millisecond, -1},
		{"answer before the request is void", p, -time.Millisecond, -1},
	}
	for _, c := range cases {
		end, ok := PromiseEnd(t0, p, c.granted, t0.Add(c.got))
		if c.want < 0 {
			if ok {
				t.Errorf("%s: end %s, want void", c.name, end.Sub(t0))
			}
			continue
		}
		if !ok || end.Sub(t0) != c.want {
			t.Errorf("%s: end %s ok=%v, want %s", c.name, end.Sub(t0), ok, c.want)
		}
	}
}

// The believed end depends only on the monotonic readings: a wall-clock
// step between sending and the answer (a fake clock carries no wall
// reading, and time.Time's monotonic part is what Sub uses) changes
// nothing, and the peer's own count from receipt always outlasts it.
func TestPromiseEndIgnoresWallStepsAndPeerOutlasts(t *testing.T) {
	clk := newFakeClock()
	t0 := clk.Now()
	const p = 8 * time.Second
	// The request takes 300 ms to reach the peer, which counts P from
	// there on its own clock; the reply takes 300 ms back.
	clk.Advance(300*time.Millisecond, 100*time.Millisecond)
	peerStart := clk.Now()
	clk.Advance(300*time.Millisecond, 100*time.Millisecond)
	got := clk.Now()
	end, ok := PromiseEnd(t0, p, p, got)
	if !ok {
		t.Fatal("grant void")
	}
	// Peer clock running 0.9 % slow (inside the 1 % margin): its promise
	// ends at peerStart + P measured on its clock, i.e. later in leader
	// time than P/(1-0.009) ... at least peerStart + P*0.991.
	peerEndLeaderTime := peerStart.Add(time.Duration(float64(p) * 0.991))
	if !end.Before(peerEndLeaderTime) {
		t.Fatalf("leader believes until %s, peer's promise ends at %s (leader time)", end.Sub(t0), peerEndLeaderTime.Sub(t0))
	}
	// A wall step: same monotonic instants with the wall part stripped
	// and moved by an hour give the same duration.
	stepped := time.Unix(0, got.UnixNano()).Add(time.Hour)
	if _, ok := PromiseEnd(t0, p, p, stepped.Add(-time.Hour)); !ok {
		t.Fatal("a stepped wall clock must not void the grant")
	}
}

func TestPromiseRoundMinOverAllPeers(t *testing.T) {
	clk := newFakeClock()
	t0 := clk.Now()
	const p = 10 * time.Second
	r := NewPromiseRound(7, t0, p, []string{"b", "c", "d"})
	if _, ok := r.Validity(); ok {
		t.Fatal("valid without grants")
	}
	if !r.Grant("b", 7, p, t0.Add(10*time.Millisecond)) {
		t.Fatal("b's grant refused")
	}
	if !r.Grant("c", 7, 5*time.Second, t0.Add(20*time.Millisecond)) {
		t.Fatal("c's grant refused")
	}
	if _, ok := r.Validity(); ok {
		t.Fatal("valid with d missing: one missing peer must void the round")
	}
	if got := r.Missing(); len(got) != 1 || got[0] != "d" {
		t.Fatalf("missing = %v, want [d]", got)
	}
	// d answers for an old term: void.
	if r.Grant("d", 6, p, t0.Add(time.Millisecond)) {
		t.Fatal("a grant for an old term must be void")
	}
	// An outsider cannot complete the round.
	if r.Grant("x", 7, p, t0.Add(time.Millisecond)) {
		t.Fatal("a grant from outside the round must be void")
	}
	// d answers after its promise would have expired: void.
	if r.Grant("d", 7, p, t0.Add(11*time.Second)) {
		t.Fatal("a late grant must be void")
	}
	if _, ok := r.Validity(); ok {
		t.Fatal("valid after a late grant")
	}
	r.Grant("d", 7, p, t0.Add(30*time.Millisecond))
	until, ok := r.Validity()
	if !ok || until.Sub(t0) != 5*time.Second-PromiseMargin(p) {
		t.Fatalf("validity %s ok=%v, want the earliest (c's) end %s", until.Sub(t0), ok, 5*time.Second-PromiseMargin(p))
	}
	if _, ok := NewPromiseRound(7, t0, p, nil).Validity(); ok {
		t.Fatal("a round without peers must not be valid")
	}
}

func TestValidateFailsafePromise(t *testing.T) {
	c := Config{NodeID: "a", LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	if err := ValidateFailsafePromise(DefaultFailsafePromise, c); err != nil {
		t.Fatalf("default: %v", err)
	}
	for _, p := range []time.Duration{0, -time.Second, MaxFailsafePromise + time.Millisecond, 4 * time.Second, 4141 * time.Millisecond} {
		err := ValidateFailsafePromise(p, c)
		if err == nil {
			t.Errorf("%s accepted", p)
			continue
		}
		if !containsFlag(err.Error(), "--failsafe-promise") {
			t.Errorf("%s: %q does not name the flag", p, err)
		}
	}
	// Exactly above the bound: 4.142s - (41ms+100ms) = 4.001s > 4s.
	if err := ValidateFailsafePromise(4142*time.Millisecond, c); err != nil {
		t.Fatalf("4.142s: %v", err)
	}
}

func containsFlag(s, flag string) bool {
	for i := 0; i+len(flag) <= len(s); i++ {
		if s[i:i+len(flag)] == flag {
			return true
		}
	}
	return false
}

func TestPromiseBookBlocksUntilItsOwnEnd(t *testing.T) {
	clk := newFakeClock()
	b, err := OpenPromiseBook("", clk, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if b.Blocked() {
		t.Fatal("blocked without promises")
	}
	if err := b.Give("a", 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// A shorter promise to the same leader never shortens it.
	if err := b.Give("a", 3, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9900*time.Millisecond, 100*time.Millisecond)
	if !b.Blocked() {
		t.Fatal("not blocked 100 ms before the promise's end")
	}
	clk.Advance(100*time.Millisecond, 100*time.Millisecond)
	if b.Blocked() {
		t.Fatal("still blocked at the promise's end")
	}
}

func TestPromiseBookVoidOnlyForThatLeadersTerm(t *testing.T) {
	clk := newFakeClock()
	b, _ := OpenPromiseBook("", clk, nil, 0)
	_ = b.Give("a", 5, 10*time.Second)
	_ = b.Give("c", 9, 3*time.Second)
	b.Void("a", 4) // a handover for an older term does not void term 5
	if l := b.Live(); len(l) != 2 {
		t.Fatalf("live = %+v, want both", l)
	}
	b.Void("a", 5)
	l := b.Live()
	if len(l) != 1 || l[0].Leader != "c" {
		t.Fatalf("live = %+v, want only c's", l)
	}
	clk.Advance(3*time.Second, 100*time.Millisecond)
	if b.Blocked() {
		t.Fatal("blocked after every promise ended or was voided")
	}
}

// A restarted node honours the promises it gave: the file holds the wall
// end plus the skew, and the new process converts the rest back to its own
// monotonic clock.
func TestPromiseBookSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	path := PromiseFilePath(dir, "web")
	if filepath.Base(path) != "web.promise" {
		t.Fatalf("path %s", path)
	}
	wall := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	wallNow := func() time.Time { return wall }
	clk := newFakeClock()
	b, err := OpenPromiseBook(path, clk, wallNow, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Give("node a", 12, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Killed 2 s later; restarted 1 s after that with a fresh monotonic
	// clock: 7 s of promise left plus the 5 s skew.
	wall = wall.Add(3 * time.Second)
	clk2 := &fakeClock{now: time.Unix(5, 0)}
	b2, err := OpenPromiseBook(path, clk2, wallNow, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l := b2.Live()
	if len(l) != 1 || l[0].Leader != "node a" || l[0].Term != 12 || l[0].Left != 12*time.Second {
		t.Fatalf("after restart: %+v, want node a term 12 with 12s left", l)
	}
	clk2.Advance(11900*time.Millisecond, 100*time.Millisecond)
	if !b2.Blocked() {
		t.Fatal("restarted node stopped honouring the promise early")
	}
	// An expired file entry is dropped on load.
	wall = wall.Add(time.Minute)
	b3, err := OpenPromiseBook(path, &fakeClock{now: time.Unix(9, 0)}, wallNow, 5*time.Second)
	if err != nil || b3.Blocked() {
		t.Fatalf("expired promise still blocks (err %v)", err)
	}
	// A corrupt file is an error, not "no promises".
	if err := os.WriteFile(path, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPromiseBook(path, clk, wallNow, 0); err == nil {
		t.Fatal("corrupt promise file accepted")
	}
}
