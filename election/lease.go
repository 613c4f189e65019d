// What the engine hands out: leadership events, the Lease with its
// self-fence deadline, and the Status snapshot for /status and metrics.

package election

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
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
	reterm   atomic.Uint64          // term of a re-acquisition after failsafe; 0 = Term
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

// CurrentTerm is the grant's term now: Term, or the term of the grant the
// engine took back without a new event after a failsafe (a native lease
// that expired on the server while the backend was unreachable).
func (l *Lease) CurrentTerm() uint64 {
	if t := l.reterm.Load(); t != 0 {
		return t
	}
	return l.Term
}

func (l *Lease) retermed(t uint64) { l.reterm.Store(t) }

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
