package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options carries the engine's injected dependencies.
type Options struct {
	Clock      Clock                 // default SystemClock
	Logger     *slog.Logger          // default discards
	Registerer prometheus.Registerer // nil: metrics not registered
	// Failsafe, when set, keeps a leader whose backend is unreachable on
	// its peers' promises (engine_failsafe.go).
	Failsafe Failsafe
	// Promises are the promises this node gave: while one is live it does
	// not acquire.
	Promises *PromiseBook
}

// Engine runs the campaign/renew loop and reports leadership changes.
type Engine struct {
	cfg   Config
	b     Backend
	clock Clock
	log   *slog.Logger

	events chan Event
	sem    chan struct{} // serialises backend calls (loop and Release)
	kick   chan struct{} // wakes the follower loop (eligibility change)

	renewDur  prometheus.Histogram
	renewFail prometheus.Counter
	health    backendHealth // guarded by mu
	fs        failsafe

	eligible     atomic.Bool
	handoverNow  atomic.Bool  // Kick: skip the acquire delay once
	acquireDelay atomic.Int64 // time.Duration
	freeSince    time.Time    // loop goroutine only: when the lease was first seen free
	announceSeq  uint64       // loop goroutine only: sequence of roster announcements

	mu        sync.Mutex
	lease     *Lease
	observed  State
	lastErr   string
	sitOutTil time.Time
	progress  time.Time
	// Roster observations (roster.go), for switchover.
	rosterSince time.Time // first successful roster read
	roster      map[string]*rosterSeen
}

// NewEngine validates cfg and returns an engine over b.
func NewEngine(cfg Config, b Backend, o Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg: cfg, b: b, clock: o.Clock, log: o.Logger,
		events: make(chan Event, 16),
		sem:    make(chan struct{}, 1),
		kick:   make(chan struct{}, 1),
		renewDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lbhc_lease_renew_duration_seconds",
			Help:    "Duration of lease acquire/renew round trips to the election backend.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		renewFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lbhc_lease_renew_failures_total",
			Help: "Lease renewals of a held lease that failed (transient errors and lost leases).",
		}),
	}
	e.health = newBackendHealth()
	e.fs = newFailsafe(o)
	e.eligible.Store(true)
	e.progress = e.clock.Now()
	if o.Registerer != nil {
		cs := []prometheus.Collector{e.renewDur, e.renewFail, e.health.errs, e.health.up}
		if o.Failsafe != nil {
			cs = append(cs, e.fs.active)
		}
		for _, c := range cs {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register election metrics: %w", err)
			}
		}
	}
	return e, nil
}

// Events delivers leadership changes in order. The agent must keep reading.
func (e *Engine) Events() <-chan Event { return e.events }

// Status returns a snapshot for /status and metrics.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{Term: e.observed.Term, Leader: e.observed.Leader, Eligible: e.eligible.Load(), LastError: e.lastErr, Progress: e.progress, BackendFailing: e.health.reason}
	if e.lease != nil && e.lease.Valid() {
		s.Leading, s.Term, s.Leader, s.Deadline = true, e.lease.CurrentTerm(), e.cfg.NodeID, e.lease.Deadline()
	}
	return s
}

// SetEligible turns campaigning on or off (standby, failed health checks).
// It does not end a grant already held: the agent demotes and calls Release.
func (e *Engine) SetEligible(ok bool) {
	e.eligible.Store(ok)
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Release ends our grant (if any) and gives the lease back so another node
// can take it at once; this node then does not campaign for sitOut. It is
// used after the agent has demoted: graceful stop, switchover, a failed
// promotion. It works whether or not Run is still running.
func (e *Engine) Release(ctx context.Context, sitOut time.Duration) error {
	e.mu.Lock()
	if e.lease != nil {
		e.lease.end()
		e.lease = nil
	}
	e.sitOutTil = e.clock.Now().Add(sitOut)
	e.mu.Unlock()
	e.failsafeEnd("lease released")
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("release: backend busy: %w", ctx.Err())
	}
	defer func() { <-e.sem }()
	if err := e.b.Release(ctx); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	e.mu.Lock()
	if e.observed.Leader == e.cfg.NodeID {
		e.observed.Leader = ""
	}
	e.mu.Unlock()
	return nil
}

// Run campaigns and renews until ctx ends. It never releases the lease on
// its own: on shutdown the agent demotes, then calls Release.
func (e *Engine) Run(ctx context.Context) error {
	var wake <-chan struct{}
	if w, ok := e.b.(Waker); ok {
		wake = w.Changes()
	}
	next := e.clock.Now()
	for {
		e.mu.Lock()
		l := e.lease
		e.mu.Unlock()
		var err error
		if l == nil {
			next, err = e.followerStep(ctx, next, wake)
		} else {
			next, err = e.leaderStep(ctx, l, next)
		}
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.progress = e.clock.Now()
		e.mu.Unlock()
	}
}

// call runs one backend operation bounded by timeout. It returns ok=false
// if the fence channel fired or ctx ended first; the call then finishes in
// the background, still holding sem so no other call overlaps it.
func (e *Engine) call(ctx context.Context, timeout time.Duration, fence <-chan time.Time, op func(context.Context) (State, error)) (st State, err error, ok bool) {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return State{}, ctx.Err(), false
	case <-fence:
		return State{}, nil, false
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	type result struct {
		st  State
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := op(cctx)
		cancel()
		<-e.sem
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		return r.st, r.err, true
	case <-ctx.Done():
		cancel()
		return State{}, ctx.Err(), false
	case <-fence:
		cancel()
		return State{}, nil, false
	}
}

func (e *Engine) acquire(ctx context.Context) (State, error) { return e.b.TryAcquire(ctx, false) }
func (e *Engine) renew(ctx context.Context) (State, error)   { return e.b.TryAcquire(ctx, true) }

// peek observes the lease without taking it; free reports whether it
// could be taken now. Without a Peeker, it reports free and observes
// nothing.
func (e *Engine) peek(ctx context.Context) (free bool, ok bool) {
	p, can := e.b.(Peeker)
	if !can {
		return true, true
	}
	var isFree bool
	st, err, ok := e.call(ctx, e.cfg.RetryPeriod, nil, func(c context.Context) (State, error) {
		st, f, err := p.Peek(c)
		isFree = f
		return st, err
	})
	if !ok {
		return false, false
	}
	if err != nil {
		e.noteErr(err)
		return false, true
	}
	e.mu.Lock()
	e.observed = st
	e.noteOKLocked()
	e.mu.Unlock()
	return isFree, true
}

// SetAcquireDelay makes this node wait d after it first sees the lease
// free before it tries to take it: lower-priority or unhealthy nodes give
// better nodes the first chance. Needs a Peeker backend to take effect.
func (e *Engine) SetAcquireDelay(d time.Duration) {
	e.acquireDelay.Store(int64(d))
}

func (e *Engine) leaderStep(ctx context.Context, l *Lease, next time.Time) (time.Time, error) {
	fence := e.clock.NewTimer(max(l.Deadline().Sub(e.clock.Now()), 0))
	defer fence.Stop()
	if d := next.Sub(e.clock.Now()); d > 0 {
		t := e.clock.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return next, ctx.Err()
		case <-fence.C():
			t.Stop()
			return e.fence(ctx, l, "renew deadline passed without a confirmed renewal")
		case <-t.C():
		}
	}
	if !l.Valid() {
		return e.fence(ctx, l, "renew deadline passed without a confirmed renewal")
	}
	sent := e.clock.Now()
	st, err, ok := e.call(ctx, e.renewTimeout(l, sent), fence.C(), e.renew)
	if !ok {
		if ctx.Err() != nil {
			return next, ctx.Err()
		}
		return e.fence(ctx, l, "renew deadline passed while the backend did not answer")
	}
	e.renewDur.Observe(e.clock.Now().Sub(sent).Seconds())
	next = sent.Add(e.cfg.RetryPeriod)
	switch {
	case errors.Is(err, ErrLeaseLost):
		e.renewFail.Inc()
		e.noteErr(err)
		if e.failsafeActive() {
			return e.failsafeReacquire(ctx, l, fence.C(), err)
		}
		return e.fence(ctx, l, "lease lost: "+err.Error())
	case err != nil:
		e.renewFail.Inc()
		e.noteErr(err)
		if e.fs.hook != nil {
			// Every error but a lost lease means "unreachable".
			return e.failsafeRound(ctx, l, fence.C(), err, next)
		}
		e.log.Warn("lease renew failed; retrying until the deadline", "term", l.CurrentTerm(), "err", err,
			"deadline_in", l.Deadline().Sub(e.clock.Now()).Round(time.Millisecond))
		return next, nil
	}
	e.mu.Lock()
	stale := e.lease != l
	if !stale {
		l.extend(sent.Add(e.cfg.RenewDeadline))
		e.observed = st
		e.noteOKLocked()
	}
	e.mu.Unlock()
	if !stale {
		e.failsafeEnd("backend answered again; lease renewed")
		e.observeRoster(ctx, fence.C())
	}
	return sent.Add(e.renewEvery()), nil
}

// fence ends the grant at once and reports it.
func (e *Engine) fence(ctx context.Context, l *Lease, reason string) (time.Time, error) {
	e.mu.Lock()
	if e.lease != l {
		e.mu.Unlock()
		return e.clock.Now(), nil // already released by the agent
	}
	l.end()
	e.lease = nil
	if e.observed.Leader == e.cfg.NodeID {
		e.observed.Leader = ""
	}
	e.mu.Unlock()
	e.failsafeEnd("demoted: " + reason)
	return e.clock.Now().Add(e.cfg.RetryPeriod), e.emit(ctx, Event{Kind: Lost, Lease: l, Reason: reason})
}

func (e *Engine) emit(ctx context.Context, ev Event) error {
	select {
	case e.events <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
