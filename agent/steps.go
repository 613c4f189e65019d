package agent

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// step runs one demote step with a deadline and returns when it is done or
// the deadline has passed, whichever comes first. A step cut that way goes
// on in the background (tracked in stragglers, so the next term waits for
// it) and the log names it.
func (a *Agent) step(term uint64, end time.Time, name string, fn func(context.Context) error) error {
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	errc := make(chan error, 1)
	a.stragglers.add()
	go func() {
		defer a.stragglers.done()
		errc <- fn(ctx)
	}()
	select {
	case err := <-errc:
		if err != nil && ctx.Err() != nil {
			a.log.Warn("demote step cut: its share of the demotion budget ran out", "term", term, "step", name)
		}
		return err
	case <-ctx.Done():
		a.log.Warn("demote step cut: its share of the demotion budget ran out", "term", term, "step", name)
		return fmt.Errorf("%s cut by the demotion budget: %w", name, ctx.Err())
	}
}

// waitStragglers waits for the previous term's cut steps, at most one
// --shutdown-timeout (they were told to stop at their deadline already).
func (a *Agent) waitStragglers(t *term) error {
	idle := a.stragglers.idle()
	timer := time.NewTimer(a.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-idle:
		return nil
	case <-t.ctx.Done():
		return t.ctx.Err()
	case <-timer.C:
		return fmt.Errorf("a demote step of the previous term still runs %s after it was cut", a.cfg.ShutdownTimeout)
	}
}

// inflight counts demote steps still running after they were cut.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0
}

func (f *inflight) add() {
	f.mu.Lock()
	if f.n == 0 {
		f.zero = make(chan struct{})
	}
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 {
		close(f.zero)
	}
	f.mu.Unlock()
}

// idle returns a channel that is closed once no step runs.
func (f *inflight) idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return f.zero
}
