// The follower half of the engine's loop: wait for the next retry (or a
// wake-up), peek at the record where the backend allows it, and try to
// acquire, at most one backend call at a time (acquireSem).

package election

import (
	"context"
	"time"
)

func (e *Engine) followerStep(ctx context.Context, next time.Time, wake <-chan struct{}) (time.Time, error) {
	if d := next.Sub(e.clock.Now()); d > 0 {
		t := e.clock.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return next, ctx.Err()
		case <-t.C():
		case <-wake:
			t.Stop()
		case <-e.kick:
			t.Stop()
		}
	}
	now := e.clock.Now()
	e.mu.Lock()
	sitOut := e.sitOutTil
	e.mu.Unlock()
	// A promise given to a leader in failsafe keeps this node out like a
	// sit-out, even where it reaches the backend.
	if u := e.fs.promises.Until(); u.After(sitOut) {
		sitOut = u
	}
	retry := now.Add(e.cfg.RetryPeriod)
	if !e.eligible.Load() || now.Before(sitOut) {
		// Not campaigning: keep observing who leads (for /status and a
		// switchover's report).
		e.freeSince = time.Time{}
		if _, ok := e.peek(ctx); !ok {
			return next, ctx.Err()
		}
		e.observeRoster(ctx, nil)
		if now.Before(sitOut) && sitOut.Before(retry) {
			return sitOut, nil
		}
		return retry, nil
	}
	// Campaigning: let a leader see that this node could take over, and
	// keep watching who else does, should this node be elected.
	if !e.announce(ctx) {
		return next, ctx.Err()
	}
	e.observeRoster(ctx, nil)
	// A handover (Kick) names this node: no priority delay this time.
	if delay := time.Duration(e.acquireDelay.Load()); delay > 0 && !e.handoverNow.Swap(false) {
		free, ok := e.peek(ctx)
		if !ok {
			return next, ctx.Err()
		}
		if !free {
			e.freeSince = time.Time{}
			return retry, nil
		}
		if e.freeSince.IsZero() {
			e.freeSince = now
		}
		if at := e.freeSince.Add(delay); now.Before(at) {
			if at.Before(retry) {
				return at, nil
			}
			return retry, nil
		}
	}
	e.freeSince = time.Time{}
	sent := now
	st, err, ok := e.call(ctx, e.cfg.RenewDeadline, nil, e.acquire)
	if !ok {
		return next, ctx.Err()
	}
	e.renewDur.Observe(e.clock.Now().Sub(sent).Seconds())
	next = sent.Add(e.cfg.RetryPeriod)
	if err != nil {
		e.noteErr(err)
		e.log.Debug("lease acquire failed", "err", err)
		return next, nil
	}
	e.mu.Lock()
	e.noteOKLocked()
	e.observed = st
	e.mu.Unlock()
	if !st.Held {
		if st.RetryAfter > 0 && st.RetryAfter < e.cfg.RetryPeriod {
			next = e.clock.Now().Add(st.RetryAfter)
		}
		return next, nil
	}
	deadline := sent.Add(e.cfg.RenewDeadline)
	if !e.clock.Now().Before(deadline) || !e.eligible.Load() || e.fs.promises.Blocked() {
		// The grant arrived too late to be used (or we went ineligible,
		// or promised a leader in failsafe not to acquire, while it was
		// in flight): hand it back rather than lead.
		rctx, cancel := context.WithTimeout(ctx, e.cfg.RetryPeriod)
		e.log.Warn("lease granted after its deadline or while ineligible; releasing it", "term", st.Term)
		if e.acquireSem(rctx) {
			_ = e.b.Release(rctx)
			<-e.sem
		}
		cancel()
		return next, nil
	}
	l := newLease(st.Term, e.clock, deadline)
	e.mu.Lock()
	e.lease = l
	e.mu.Unlock()
	e.log.Debug("lease acquired", "term", st.Term, "deadline_in", deadline.Sub(e.clock.Now()))
	if err := e.emit(ctx, Event{Kind: Elected, Lease: l, Reason: "lease acquired"}); err != nil {
		return next, err
	}
	return next, nil
}

func (e *Engine) acquireSem(ctx context.Context) bool {
	select {
	case e.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}
