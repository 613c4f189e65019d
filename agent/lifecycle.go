package agent

import (
	"context"
	"time"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
)

// handleEvent reacts to the engine. Loop goroutine only.
func (a *Agent) handleEvent(ev election.Event) {
	switch ev.Kind {
	case election.Elected:
		a.granted(ev.Lease)
	case election.Lost:
		if a.pending == ev.Lease {
			a.pending = nil
		}
		if t := a.cur; t != nil && t.lease == ev.Lease {
			// No release: the lease is gone or unconfirmable; the backend
			// expires it for the next leader. A promotion in progress is
			// cancelled and undone at once.
			a.stopTerm(t, stopReq{reason: ev.Reason, end: time.Now().Add(a.cfg.ShutdownTimeout)})
		}
	}
}

// granted starts the term of a new grant, keeps it for when the previous
// term's worker is done (terms never overlap), or hands it back when the
// operator asked for standby meanwhile. Loop goroutine only.
func (a *Agent) granted(l *election.Lease) {
	switch {
	case a.isStandby():
		// Off the loop: a backend round trip.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timing.RetryPeriod)
			defer cancel()
			_ = a.p.Engine.Release(ctx, 0)
		}()
	case a.cur != nil:
		a.pending = l
	case l.Valid():
		a.startTerm(l)
	}
}

// stopCurrent asks the running term (if any, and not already stopping) to
// demote and release, the node then sitting out for sitOut. Loop only.
func (a *Agent) stopCurrent(reason string, sitOut time.Duration) {
	if t := a.cur; t != nil {
		a.stopTerm(t, stopReq{reason: reason, release: true, sitOut: sitOut, end: time.Now().Add(a.cfg.ShutdownTimeout)})
	}
}

func (a *Agent) cloudEvent(l *election.Lease, role string) cloud.Event {
	ev := cloud.Event{Role: role, Term: l.Term, NodeID: a.cfg.NodeID, VIPs: a.cfg.VIPs}
	if role == RoleLeader {
		ev.Leader, ev.Valid = a.cfg.NodeID, l.Valid
	} else {
		ev.Leader = a.p.Engine.Status().Leader
	}
	return ev
}

// setRole records and logs a role change once, with term and reason.
func (a *Agent) setRole(role string, term uint64, reason string) {
	a.mu.Lock()
	old := a.role
	a.role, a.lastReason, a.lastChange = role, reason, time.Now()
	a.mu.Unlock()
	a.m.setRole(role, term)
	if old != role {
		a.m.transitions.Inc()
		a.log.Info("role changed", "from", old, "to", role, "term", term, "reason", reason)
	}
}

func (a *Agent) currentRole() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.role
}

func (a *Agent) isStandby() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.standby || a.plat.hold || a.linkDown
}

// updateEligibility tells the engine whether and how eagerly to campaign:
// standby never; unhealthy nodes only as a last resort, after healthy
// nodes of any listed priority had their chance; lower priorities later.
func (a *Agent) updateEligibility() {
	standby := a.isStandby()
	a.p.Engine.SetEligible(!standby)
	delay := time.Duration(a.cfg.Priority-1) * a.cfg.PriorityStep
	healthy := a.p.Health == nil || a.p.Health.Healthy()
	if !healthy {
		delay += 2 * a.cfg.Timing.LeaseTTL
	}
	a.p.Engine.SetAcquireDelay(delay)
	a.m.standby.Set(b2f(standby))
	a.m.healthy.Set(b2f(healthy))
}

// healthChanged reacts to the check monitor. A leader whose checks fall
// demotes and releases, sitting out so a healthy node takes over.
func (a *Agent) healthChanged(healthy bool) {
	a.updateEligibility()
	if healthy {
		a.log.Info("application checks healthy")
		return
	}
	a.log.Warn("application checks failed")
	a.stopCurrent("application checks failed", 0) // the unhealthy acquire delay keeps it out
}

// watchdog is LifeKeeper's HC_TIMEOUT: a leader that receives no probe for
// ProbeIdleTimeout has been forgotten by its load balancer.
func (a *Agent) watchdog() {
	if a.cfg.ProbeIdleTimeout <= 0 {
		return
	}
	a.mu.Lock()
	leading := a.role == RoleLeader
	since := time.Since(a.leaderSince)
	warned := a.idleWarned
	a.mu.Unlock()
	idle := leading && since >= a.cfg.ProbeIdleTimeout && a.p.Probe.SinceLastProbe() >= a.cfg.ProbeIdleTimeout
	a.m.probeIdle.Set(b2f(idle))
	if !idle {
		if warned {
			a.mu.Lock()
			a.idleWarned = false
			a.mu.Unlock()
		}
		return
	}
	if !warned {
		a.log.Warn("no load balancer probe received while leading", "idle_for", a.p.Probe.SinceLastProbe().Round(time.Second), "timeout", a.cfg.ProbeIdleTimeout)
		a.mu.Lock()
		a.idleWarned = true
		a.mu.Unlock()
	}
	if a.cfg.ProbeIdleDemote {
		a.stopCurrent("no probe received for "+a.cfg.ProbeIdleTimeout.String(), 2*a.cfg.Timing.LeaseTTL)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
