package election

import (
	"sync"
	"time"
)

// fakeClock is a manual clock. Advance moves time in steps and gives the
// engine goroutines a moment of real time after each step to react.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     chan time.Time
	at    time.Time
	fired bool
	clk   *fakeClock
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
	t.fired = true
	return was
}

// Advance moves the clock forward by d in steps of step, firing timers.
func (c *fakeClock) Advance(d, step time.Duration) {
	for moved := time.Duration(0); moved < d; moved += step {
		c.mu.Lock()
		c.now = c.now.Add(step)
		keep := c.timers[:0]
		for _, t := range c.timers {
			if t.fired {
				continue
			}
			if !t.at.After(c.now) {
				t.fired = true
				t.c <- c.now
				continue
			}
			keep = append(keep, t)
		}
		c.timers = keep
		c.mu.Unlock()
		time.Sleep(200 * time.Microsecond) // let the engines run
	}
}
