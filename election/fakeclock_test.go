package election

import (
	"sync"
	"time"
)

// fakeClock is a manual clock. Advance moves time in steps and, after each
// step, waits (in real time, bounded) until every timer it fired has been
// received or stopped, then gives the goroutines a moment more to react: a
// loaded machine (CI runs packages in parallel on two cores) must not let
// fake time run ahead of a goroutine that has not yet seen its timer.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     chan time.Time
	at    time.Time
	fired bool
	// stopped: Stop was called; a fired timer nobody will read is not
	// waited for.
	stopped bool
	clk     *fakeClock
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: c.now.Add(d), clk: c}
	if d <= 0 {
		t.fired = true
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := !t.fired
	t.fired, t.stopped = true, true
	return was
}

// settleTimeout bounds how long Advance waits, per step, for fired timers
// to be received: a timer whose receiver returned without Stop would
// otherwise hold the test forever.
const settleTimeout = 20 * time.Millisecond

// settle waits until every timer in fired has been received or stopped.
func (c *fakeClock) settle(fired []*fakeTimer) {
	deadline := time.Now().Add(settleTimeout)
	for _, t := range fired {
		for len(t.c) > 0 && time.Now().Before(deadline) {
			c.mu.Lock()
			stopped := t.stopped
			c.mu.Unlock()
			if stopped {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// Advance moves the clock forward by d in steps of step, firing timers.
func (c *fakeClock) Advance(d, step time.Duration) {
	for moved := time.Duration(0); moved < d; moved += step {
		c.mu.Lock()
		c.now = c.now.Add(step)
		var fired []*fakeTimer
		keep := c.timers[:0]
		for _, t := range c.timers {
			if t.fired {
				continue
			}
			if !t.at.After(c.now) {
				t.fired = true
				t.c <- c.now
				fired = append(fired, t)
				continue
			}
			keep = append(keep, t)
		}
		c.timers = keep
		c.mu.Unlock()
		c.settle(fired)
		time.Sleep(200 * time.Microsecond) // let the engines act on what they received
	}
}
