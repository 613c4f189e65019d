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

// EventKind tells an Event's meaning.
type EventKind int

const (
	// Elected: this node holds a new grant. Event.Lease is valid until its
	// deadline unless renewed.
	Elected EventKind = iota + 1
	// Lost: the grant ended (lease lost, or its deadline passed without a
	// confirmed renewal). The lease was already invalid when this was sent.
	Lost
)

func (k EventKind) String() string {
	switch k {
	case Elected:
		return "elected"
	case Lost:
		return "lost"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a leadership change reported by the Engine.
type Event struct {
	Kind   EventKind
	Lease  *Lease
	Reason string
}

// Lease is one grant as seen by this node. Valid is cheap enough to call on
// every accepted probe connection.
type Lease struct {
	Term uint64

	clock    Clock
	base     time.Time    // monotonic origin for deadline
	deadline atomic.Int64 // nanoseconds after base; 0 = ended
	ctx      context.Context
	cancel   context.CancelFunc
	moved    atomic.Pointer[func()] // OnExtend's f
}

func newLease(term uint64, clock Clock, deadline time.Time) *Lease {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lease{Term: term, clock: clock, base: deadline.Add(-time.Hour), ctx: ctx, cancel: cancel}
	l.extend(deadline)
	return l
}

// Valid reports whether the self-fence deadline has not passed: the time of
// sending the last successful acquire/renew plus renew-deadline, on this
// node's monotonic clock. A paused process that resumes past the deadline
// sees false before it does anything else.
func (l *Lease) Valid() bool {
	if l == nil {
		return false
	}
	return int64(l.clock.Now().Sub(l.base)) < l.deadline.Load()
}

// Deadline is the current self-fence deadline.
func (l *Lease) Deadline() time.Time { return l.base.Add(time.Duration(l.deadline.Load())) }

// Context is cancelled when the grant ends (fence, loss or release), so
// promote steps working for this term stop.
func (l *Lease) Context() context.Context { return l.ctx }

// OnExtend makes f run each time Deadline moves: after every confirmed
// renewal and when the grant ends. The kernel fence takes its new deadline
// from it instead of polling Deadline. f runs in the engine's goroutine and
// must not block.
func (l *Lease) OnExtend(f func()) { l.moved.Store(&f) }

func (l *Lease) extend(deadline time.Time) {
	l.deadline.Store(int64(deadline.Sub(l.base)))
	l.notify()
}

func (l *Lease) end() {
	l.deadline.Store(0)
	l.cancel()
	l.notify()
}

func (l *Lease) notify() {
	if f := l.moved.Load(); f != nil {
		(*f)()
	}
}

// Status is the engine's view for /status.
type Status struct {
	Leading   bool
	Term      uint64 // our term when leading, else the last observed term
	Leader    string // last observed holder
	Deadline  time.Time
	Eligible  bool
	LastError string
	// Progress is when the engine last finished a step: a backend call
	// answered, failed or timed out, or a wait ended. Steps are bounded
	// (retry-period + renew-deadline at most), so an old Progress means the
	// engine is stuck (e.g. on a backend call that ignores its context).
	Progress time.Time
	// BackendFailing is the reason (ErrorReason) while backend calls fail,
	// "" once one succeeds: such a node cannot lead and is not ready.
	BackendFailing string
}

// Options carries the engine's injected dependencies.
type Options struct {
	Clock      Clock                 // default SystemClock
	Logger     *slog.Logger          // default discards
	Registerer prometheus.Registerer // nil: metrics not registered
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

	eligible     atomic.Bool
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
	e.eligible.Store(true)
	e.progress = e.clock.Now()
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{e.renewDur, e.renewFail, e.health.errs, e.health.up} {
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
		s.Leading, s.Term, s.Leader, s.Deadline = true, e.lease.Term, e.cfg.NodeID, e.lease.Deadline()
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
	if delay := time.Duration(e.acquireDelay.Load()); delay > 0 {
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
	if !e.clock.Now().Before(deadline) || !e.eligible.Load() {
		// The grant arrived too late to be used (or we went ineligible
		// meanwhile): hand it back rather than lead on a stale deadline.
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
	st, err, ok := e.call(ctx, l.Deadline().Sub(sent), fence.C(), e.renew)
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
		return e.fence(ctx, l, "lease lost: "+err.Error())
	case err != nil:
		e.renewFail.Inc()
		e.noteErr(err)
		e.log.Warn("lease renew failed; retrying until the deadline", "term", l.Term, "err", err,
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
