package agent

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// healthzLoopTimeout bounds the control loop's answer to /healthz. The loop
// never waits for slow work, so it answers in microseconds; a second means
// it is wedged.
const healthzLoopTimeout = time.Second

// engineStaleAfter is how long the election engine may go without finishing
// a step before /healthz fails: one step is a wait of at most retry-period
// and a backend call bounded by renew-deadline; one more retry-period of
// slack covers scheduling.
func (a *Agent) engineStaleAfter() time.Duration {
	return a.cfg.Timing.RenewDeadline + 2*a.cfg.Timing.RetryPeriod
}

// liveness reports why this agent cannot act, or "" when it can: its
// control loop answers and its election engine has heard from the backend
// or concluded it cannot, within its deadlines. It says nothing about
// leadership or the backend's health: a follower that cannot reach the
// backend is alive (restarting it would not help).
func (a *Agent) liveness(ctx context.Context) string {
	lctx, cancel := context.WithTimeout(ctx, healthzLoopTimeout)
	defer cancel()
	if res := a.do(lctx, "ping"); res.status != 200 {
		return "control loop does not answer: " + res.msg
	}
	es := a.p.Engine.Status()
	if d := time.Since(es.Progress); d > a.engineStaleAfter() {
		return fmt.Sprintf("election engine has not finished a step for %s (bound %s)", d.Round(time.Millisecond), a.engineStaleAfter())
	}
	return ""
}

// serveHealthz is the liveness endpoint: 200 through a long promotion or
// demotion, 503 only when the process should be restarted.
func (a *Agent) serveHealthz(w http.ResponseWriter, r *http.Request) {
	if why := a.liveness(r.Context()); why != "" {
		http.Error(w, why, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// serveReadyz is the readiness endpoint: alive, and the last election
// backend call succeeded (leaders and followers alike are ready).
func (a *Agent) serveReadyz(w http.ResponseWriter, r *http.Request) {
	if why := a.liveness(r.Context()); why != "" {
		http.Error(w, why, http.StatusServiceUnavailable)
		return
	}
	// A node that cannot use its lease backend cannot lead: not ready.
	es := a.p.Engine.Status()
	if es.BackendFailing != "" {
		http.Error(w, "lease backend failing ("+es.BackendFailing+"): "+es.LastError, http.StatusServiceUnavailable)
		return
	}
	if es.LastError != "" {
		http.Error(w, "election backend: "+es.LastError, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}
