// The leader's failsafe (DESIGN.md "Peers and failsafe"): when a renewal
// fails because the backend is unreachable (any error but a lost lease),
// the engine asks the peers for promises through Options.Failsafe and, if
// every peer granted one, moves the lease's deadline to the earliest
// believed promise end. When the backend answers again it renews (or, for
// a native lease that expired server-side, re-acquires) without a Lost or
// Elected event, so the agent and its probe never see a flap.

package election

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Failsafe is the leader's side of the peer channel; the agent implements
// it over peer.Node.
type Failsafe interface {
	// Promise asks every configured peer not to acquire (nor act as
	// leader) for term, and returns the believed validity of the round:
	// the earliest PromiseEnd over all peers. ok is false unless every
	// peer granted in time. It returns by the time ctx ends, which is the
	// lease's current deadline.
	Promise(ctx context.Context, term uint64) (until time.Time, ok bool)
}

// FailsafeStatus is the leader's failsafe state for /status.
type FailsafeStatus struct {
	Enabled bool
	Active  bool
	Since   time.Time // when the current failsafe began (engine clock)
	Reason  string    // ErrorReason of the renewal failure that started it
	Until   time.Time // believed validity of the last complete promise round
}

// failsafe is the engine's failsafe state.
type failsafe struct {
	hook     Failsafe     // nil: failsafe off
	promises *PromiseBook // promises this node gave; nil = none
	active   prometheus.Gauge

	// guarded by Engine.mu
	since  time.Time
	reason string
	until  time.Time
}

func newFailsafe(o Options) failsafe {
	return failsafe{hook: o.Failsafe, promises: o.Promises, active: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lbhc_failsafe_active",
		Help: "1 while this leader holds the lease on its peers' promises because the election backend is unreachable.",
	})}
}

// renewTimeout bounds a renewal sent at sent: the whole validity left, or
// with failsafe half of it (at most half the renew deadline), so that the
// promise round still has time when the backend does not answer at all.
// With failsafe a step (renewal + round) thus lasts at most one renew
// deadline, whatever the promise time, and /healthz's progress bound
// holds.
func (e *Engine) renewTimeout(l *Lease, sent time.Time) time.Duration {
	left := l.Deadline().Sub(sent)
	if e.fs.hook == nil {
		return left
	}
	return min(left/2, e.cfg.RenewDeadline/2)
}

// failsafeRound runs after a renewal failed with cause (not a lost
// lease): it asks the peers for promises and extends l to the round's
// validity. Without every peer's grant nothing changes and the deadline
// (from the last renewal or the last complete round) demotes.
func (e *Engine) failsafeRound(ctx context.Context, l *Lease, fence <-chan time.Time, cause error, next time.Time) (time.Time, error) {
	left := l.Deadline().Sub(e.clock.Now())
	if left <= 0 {
		return e.fence(ctx, l, "renew deadline passed without a confirmed renewal")
	}
	// The round's budget follows the renew deadline (never a fixed
	// timeout: peers far away must not make the leader demote), and the
	// channel resends within it.
	rctx, cancel := context.WithTimeout(ctx, min(left, e.cfg.RenewDeadline/2))
	defer cancel()
	type round struct {
		until time.Time
		ok    bool
	}
	done := make(chan round, 1)
	go func() {
		u, ok := e.fs.hook.Promise(rctx, l.CurrentTerm()) // a re-acquisition may have moved it
		done <- round{u, ok}
	}()
	var r round
	select {
	case r = <-done:
	case <-fence:
		return e.fence(ctx, l, "renew deadline passed while asking the peers for failsafe promises")
	case <-ctx.Done():
		return next, ctx.Err()
	}
	if !r.ok {
		// The hook logs which peers did not promise.
		e.log.Debug("failsafe: not every peer promised; demoting at the deadline unless the backend answers",
			"term", l.CurrentTerm(), "deadline_in", l.Deadline().Sub(e.clock.Now()).Round(time.Millisecond))
		return next, nil
	}
	e.mu.Lock()
	if e.lease != l {
		e.mu.Unlock()
		return next, nil
	}
	if r.until.After(l.Deadline()) {
		l.extend(r.until)
	}
	start := e.fs.since.IsZero()
	if start {
		e.fs.since, e.fs.reason = e.clock.Now(), ErrorReason(cause)
	}
	e.fs.until = r.until
	e.mu.Unlock()
	if start {
		e.fs.active.Set(1)
		e.log.Warn("failsafe started: backend unreachable, leading on every peer's promise",
			"term", l.CurrentTerm(), "reason", ErrorReason(cause), "err", cause,
			"valid_for", r.until.Sub(e.clock.Now()).Round(time.Millisecond))
	}
	return next, nil
}

// failsafeEnd leaves failsafe (if active) and logs why.
func (e *Engine) failsafeEnd(why string) {
	e.mu.Lock()
	since := e.fs.since
	e.fs.since, e.fs.reason, e.fs.until = time.Time{}, "", time.Time{}
	e.mu.Unlock()
	if since.IsZero() {
		return
	}
	e.fs.active.Set(0)
	e.log.Info("failsafe ended: "+why, "lasted", e.clock.Now().Sub(since).Round(time.Millisecond))
}

// failsafeActive reports whether l is held on promises now.
func (e *Engine) failsafeActive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.fs.since.IsZero()
}

// failsafeReacquire handles a lost lease after a failsafe: a native lease
// (etcd, Azure) expired on the server while the backend was unreachable,
// and nobody could take it while the promises lasted. One acquire tries
// to take it back; if the store grants it, the grant continues without an
// event (its new term is Lease.CurrentTerm). Anything else demotes.
func (e *Engine) failsafeReacquire(ctx context.Context, l *Lease, fence <-chan time.Time, lost error) (time.Time, error) {
	sent := e.clock.Now()
	st, err, ok := e.call(ctx, l.Deadline().Sub(sent), fence, e.acquire)
	if !ok {
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		return e.fence(ctx, l, "renew deadline passed while re-acquiring after failsafe")
	}
	if err != nil || !st.Held || errors.Is(err, ErrLeaseLost) {
		e.failsafeEnd("lease lost")
		return e.fence(ctx, l, "lease lost: "+lost.Error())
	}
	e.mu.Lock()
	stale := e.lease != l
	if !stale {
		l.retermed(st.Term)
		l.extend(sent.Add(e.cfg.RenewDeadline))
		e.observed = st
		e.noteOKLocked()
	}
	e.mu.Unlock()
	e.failsafeEnd("backend answered again; lease re-acquired")
	return sent.Add(e.renewEvery()), nil
}

// FailsafeStatus reports the failsafe state.
func (e *Engine) FailsafeStatus() FailsafeStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return FailsafeStatus{Enabled: e.fs.hook != nil, Active: !e.fs.since.IsZero(), Since: e.fs.since, Reason: e.fs.reason, Until: e.fs.until}
}

// Promises is the book of promises this node gave (nil without failsafe).
func (e *Engine) Promises() *PromiseBook { return e.fs.promises }

// Kick makes a follower try to acquire at once (a handover from the
// leader that just released).
func (e *Engine) Kick() {
	e.handoverNow.Store(true)
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// ExtendRecordTTL makes b write its lease with a TTL extra longer than
// its own lease-ttl (lease-ttl + the failsafe promise), so that nodes
// outside the peer set wait out the promises too. CAS-record stores write
// it into the record (followers wait max(own TTL, record TTL)); stores
// that implement it themselves (etcd: the etcd lease's TTL) do their own.
// The Azure native lease's duration is fixed by Azure (15-60 s) and does
// not change.
func ExtendRecordTTL(b Backend, extra time.Duration) {
	switch b := b.(type) {
	case *casBackend:
		b.extraTTL = extra
	case casRosterBackend:
		b.extraTTL = extra
	case interface{ ExtendTTL(time.Duration) }:
		b.ExtendTTL(extra)
	}
}
