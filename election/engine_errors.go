package election

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a backend call failed, the label of
// lbhc_lease_backend_errors_total. Few and fixed: a message may carry
// versions or addresses that change on every call.
const (
	ReasonCorrupt     = "corrupt"       // a record that is not a valid lbhc lease record
	ReasonUnusable    = "unusable_file" // symlink, FIFO, directory, oversized file, foreign lock file
	ReasonLockHeld    = "lock_held"     // another process holds the lease file's lock
	ReasonPermission  = "permission"    // the store refused access
	ReasonNotFound    = "missing_path"  // the lease file's directory vanished
	ReasonTimeout     = "timeout"       // the call did not finish in time
	ReasonUnavailable = "unavailable"   // anything else: network, 5xx, throttling
)

// ErrorReason classifies a backend error for logs and metrics.
func ErrorReason(err error) string {
	switch {
	case errors.Is(err, ErrCorrupt):
		return ReasonCorrupt
	case errors.Is(err, errBadFile):
		return ReasonUnusable
	case errors.Is(err, errLockHeld):
		return ReasonLockHeld
	case errors.Is(err, fs.ErrPermission):
		return ReasonPermission
	case errors.Is(err, fs.ErrNotExist):
		return ReasonNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonUnavailable
}

// backendHealth tracks the current backend failure so it is logged at warn
// once per change of reason and once when it clears, not on every retry.
type backendHealth struct {
	reason string    // "" while the last call succeeded
	since  time.Time // when the current reason began
	count  int       // failures since then

	errs *prometheus.CounterVec
	up   prometheus.Gauge
}

func newBackendHealth() backendHealth {
	h := backendHealth{
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbhc_lease_backend_errors_total",
			Help: "Failed calls to the election backend (acquire, renew, observe) by reason; lost leases are not counted.",
		}, []string{"reason"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbhc_lease_backend_up",
			Help: "1 while the last call to the election backend succeeded, 0 while it fails (the node is then not ready).",
		}),
	}
	h.up.Set(1)
	return h
}

// noteErr records a failed backend call (a lost lease is reported by the
// demotion itself and does not mark the backend as failing).
func (e *Engine) noteErr(err error) {
	now := e.clock.Now()
	e.mu.Lock()
	e.lastErr = err.Error()
	if errors.Is(err, ErrLeaseLost) {
		e.mu.Unlock()
		return
	}
	r := ErrorReason(err)
	h := &e.health
	changed := h.reason != r
	if changed {
		h.reason, h.since, h.count = r, now, 0
	}
	h.count++
	e.mu.Unlock()
	h.errs.WithLabelValues(r).Inc()
	h.up.Set(0)
	if changed {
		e.log.Warn("lease backend failing; retrying every retry period", "reason", r, "err", err,
			"retry_period", e.cfg.RetryPeriod.String())
	}
}

// noteOK records a successful backend call (e.mu held).
func (e *Engine) noteOKLocked() {
	e.lastErr = ""
	h := &e.health
	if h.reason == "" {
		return
	}
	e.log.Info("lease backend recovered", "reason", h.reason, "failures", h.count,
		"after", e.clock.Now().Sub(h.since).Round(time.Millisecond).String())
	h.reason, h.count = "", 0
	h.up.Set(1)
}
