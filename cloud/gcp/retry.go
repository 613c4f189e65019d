package gcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/lbhc/lbhc/cloud"
)

// Retry is how a GCP action retries one API call, and reads its state back
// after a change. It mirrors the AWS actions' policy: Event.Valid is asked
// before every attempt of a mutating call.
type Retry struct {
	// Tries is the number of attempts per call in total (>= 1).
	Tries int
	// Interval is the wait before the second attempt; each further wait
	// doubles (backoff against rate limits) up to MaxInterval.
	Interval    time.Duration
	MaxInterval time.Duration
	// AttemptTimeout bounds one HTTP call; 0 = none.
	AttemptTimeout time.Duration
	// Poll is the wait between polls of a pending operation. A route
	// insert usually completes within 10-20 s, an interface update in a
	// few seconds.
	Poll time.Duration
	// OpTimeout bounds the wait for one operation to reach DONE.
	OpTimeout time.Duration
	// CheckTries reads, CheckInterval apart, verify the state after a
	// change.
	CheckTries    int
	CheckInterval time.Duration
}

// DefaultRetry: 4 tries 2 s apart backing off to 20 s, 10 s per call,
// operations polled every 2 s for at most 90 s, 4 read-backs 2 s apart.
var DefaultRetry = Retry{Tries: 4, Interval: 2 * time.Second, MaxInterval: 20 * time.Second,
	AttemptTimeout: 10 * time.Second, Poll: 2 * time.Second, OpTimeout: 90 * time.Second,
	CheckTries: 4, CheckInterval: 2 * time.Second}

// withDefaults fills zero fields from DefaultRetry.
func (p Retry) withDefaults() Retry {
	d := DefaultRetry
	if p.Tries < 1 {
		p.Tries = d.Tries
	}
	if p.Interval <= 0 {
		p.Interval = d.Interval
	}
	if p.MaxInterval < p.Interval {
		p.MaxInterval = max(p.Interval, d.MaxInterval)
	}
	if p.Poll <= 0 {
		p.Poll = d.Poll
	}
	if p.OpTimeout <= 0 {
		p.OpTimeout = d.OpTimeout
	}
	if p.CheckTries < 1 {
		p.CheckTries = d.CheckTries
	}
	if p.CheckInterval <= 0 {
		p.CheckInterval = d.CheckInterval
	}
	return p
}

// retryable reports whether err (from one attempt) is transient: rate
// limits (429; 403 with reason rateLimitExceeded / userRateLimitExceeded,
// the Compute API's older spelling), 5xx, a timed-out attempt, a broken
// connection, 400 resourceNotReady (an operation on the resource is still
// running). quotaExceeded (a resource quota such as "routes per network")
// is not: waiting does not free quota. parent is the caller's context.
func retryable(parent context.Context, err error) bool {
	if err == nil || parent.Err() != nil || errors.Is(err, ErrNotLeader) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == 429 || ae.Status >= 500:
			return true
		case ae.Status == 403:
			return ae.Reason == "rateLimitExceeded" || ae.Reason == "userRateLimitExceeded"
		case ae.Status == 400:
			// Another operation on the resource is still running.
			return ae.Reason == "resourceNotReady"
		default:
			return false // a definite answer, e.g. 404, 409, 412, 400
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// caller runs API calls for one promote or monitor pass.
type caller struct {
	p   Retry
	log *slog.Logger
	ev  Event
}

// call runs fn under the retry policy. When write is true, ev.Valid is
// asked before every attempt and ErrNotLeader returned (without calling
// fn) once it reports false.
func (r *caller) call(ctx context.Context, write bool, what string, fn func(context.Context) error) error {
	wait := r.p.Interval
	var err error
	for attempt := 1; ; attempt++ {
		if write && !r.ev.Leading() {
			return fmt.Errorf("%s: %w", what, ErrNotLeader)
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if r.p.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, r.p.AttemptTimeout)
		}
		err = fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !retryable(ctx, err) || attempt >= r.p.Tries {
			break
		}
		// ±20 % jitter so nodes limited together do not retry in lockstep.
		d := wait + time.Duration((rand.Float64()*0.4-0.2)*float64(wait))
		r.log.Warn("gcp call failed, retrying", "call", what, "attempt", attempt, "of", r.p.Tries, "retry_in", d, "err", err)
		if serr := cloud.Sleep(ctx, d); serr != nil {
			return fmt.Errorf("%s: %w (last error: %v)", what, serr, err)
		}
		wait = min(2*wait, r.p.MaxInterval)
	}
	return fmt.Errorf("%s: %w", what, err)
}
