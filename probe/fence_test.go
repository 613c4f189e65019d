package probe

import (
	"sync"
	"testing"
	"time"
)

// recordingFence stands in for the kernel fence and records every deadline
// it is given, and whether the listener was already open at that moment.
type recordingFence struct {
	s  *Server
	mu sync.Mutex
	// sets holds the deadlines in order; openAt[i] tells whether the
	// listener was open when sets[i] was stored.
	sets   []time.Time
	openAt []bool
}

func (f *recordingFence) set(d time.Time) error {
	open := f.s.Listening()
	f.mu.Lock()
	f.sets = append(f.sets, d)
	f.openAt = append(f.openAt, open)
	f.mu.Unlock()
	return nil
}

func (f *recordingFence) close() {}

// firstOpen returns the first non-zero deadline set at index from or
// later, and whether the listener was open then.
func (f *recordingFence) firstOpen(t *testing.T, from int) (time.Time, bool) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := from; i < len(f.sets); i++ {
		if !f.sets[i].IsZero() {
			return f.sets[i], f.openAt[i]
		}
	}
	t.Fatalf("the fence was never opened (sets %v)", f.sets[from:])
	return time.Time{}, false
}

func (f *recordingFence) last() (time.Time, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sets) == 0 {
		return time.Time{}, 0
	}
	return f.sets[len(f.sets)-1], len(f.sets)
}

// The fence holds the lease's real deadline: set before the listener opens
// (no packet is ever accepted unfenced), moved when a renewal moves the
// deadline, closed (zero) on demotion. Without a deadline (no lease
// expiry, e.g. --election none) it stays open for good.
func TestFenceFollowsTheLeaseDeadline(t *testing.T) {
	s, addr := newServer(t, Config{Message: "ACTIVE", NoKernelFence: true})
	f := &recordingFence{s: s}
	s.fence = f

	var mu sync.Mutex
	deadline := time.Now().Add(400 * time.Millisecond)
	get := func() time.Time { mu.Lock(); defer mu.Unlock(); return deadline }
	if err := s.Lead(always, get); err != nil {
		t.Fatal(err)
	}
	first, openFirst := f.firstOpen(t, 0)
	if !first.Equal(get()) {
		t.Fatalf("fence set to %s from now, lease deadline %s from now", time.Until(first), time.Until(get()))
	}
	if openFirst {
		t.Fatal("listener was open before the fence held the deadline")
	}
	if got := tcpAnswer(t, addr); got != "ok:ACTIVE" {
		t.Fatalf("leader: %q", got)
	}

	// A renewal moves the deadline and tells the server (the lease's
	// OnExtend): the fence follows.
	mu.Lock()
	deadline = deadline.Add(2 * time.Second)
	mu.Unlock()
	s.DeadlineMoved()
	end := time.Now().Add(2 * time.Second)
	for d, _ := f.last(); !d.Equal(get()); d, _ = f.last() {
		if time.Now().After(end) {
			t.Fatalf("fence still at %s from now after the deadline moved to %s from now", time.Until(d), time.Until(get()))
		}
		time.Sleep(time.Millisecond)
	}

	// An unchanged deadline is not stored again.
	_, before := f.last()
	time.Sleep(100 * time.Millisecond)
	if _, after := f.last(); after != before {
		t.Fatalf("fence set %d times in 100 ms while the deadline did not move", after-before)
	}

	s.Follow()
	if d, _ := f.last(); !d.IsZero() {
		t.Fatalf("fence left at %s from now after demotion, want closed (zero)", time.Until(d))
	}
	_, n := f.last()
	time.Sleep(100 * time.Millisecond)
	if d, n2 := f.last(); n2 != n {
		t.Fatalf("fence set to %v after demotion", d)
	}

	// No deadline: the fence stays open (far future), still set before
	// the listener opens.
	if err := s.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	d, open := f.firstOpen(t, n)
	if time.Until(d) < 50*365*24*time.Hour || open {
		t.Fatalf("without a deadline the fence was set to %s from now (listener open: %v)", time.Until(d), open)
	}
	s.Follow()
}
