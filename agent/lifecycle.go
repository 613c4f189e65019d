package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
)

func (a *Agent) handleEvent(ev election.Event) {
	switch ev.Kind {
	case election.Elected:
		a.promote(ev.Lease)
	case election.Lost:
		a.mu.Lock()
		current := a.lease == ev.Lease
		a.mu.Unlock()
		if current {
			// No release: the lease is gone or unconfirmable; the backend
			// expires it for the next leader.
			a.demoteWith(context.Background(), ev.Reason, false, 0)
		}
	}
}

// promote runs the promote sequence for a new grant: VIPs, cloud actions
// (each verified), then the probe listener, then role = leader, so the
// load balancer sees the node healthy only when it is ready. Steps work
// under the lease's context, which ends when the grant ends.
func (a *Agent) promote(l *election.Lease) {
	ctx := l.Context()
	start := time.Now()
	if a.isStandby() {
		// Granted just as the operator asked for standby: hand it back.
		rctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timing.RetryPeriod)
		defer cancel()
		_ = a.p.Engine.Release(rctx, 0)
		return
	}
	a.mu.Lock()
	a.lease, a.term = l, l.Term
	a.mu.Unlock()
	ev := a.cloudEvent(l, RoleLeader)
	var done []cloud.Action
	fail := func(step string, err error) {
		a.m.promoteFailures.WithLabelValues(step).Inc()
		a.log.Error("promotion failed; undoing and releasing the lease", "term", l.Term, "step", step, "err", err)
		a.p.Probe.Follow()
		dev := a.cloudEvent(l, RoleFollower)
		for i := len(done) - 1; i >= 0; i-- {
			a.demoteAction(done[i], dev)
		}
		a.removeVIPs(l.Term)
		a.mu.Lock()
		a.lease = nil
		a.promoteFails++
		n := a.promoteFails
		a.mu.Unlock()
		// Back off (doubling, up to 4 lease TTLs) so another node can lead.
		backoff := min(a.cfg.Timing.RetryPeriod<<min(n, 10), 4*a.cfg.Timing.LeaseTTL)
		rctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timing.RetryPeriod)
		defer cancel()
		if err := a.p.Engine.Release(rctx, backoff); err != nil {
			a.log.Warn("lease release after failed promotion failed", "term", l.Term, "err", err)
		}
		a.setRole(RoleFollower, l.Term, fmt.Sprintf("promotion failed at %s: %v", step, err))
	}
	if a.p.VIPs != nil {
		if err := a.p.VIPs.Add(ctx); err != nil {
			fail("vip", err)
			return
		}
	}
	for _, act := range a.p.Actions {
		t0 := time.Now()
		err := act.Promote(ctx, ev)
		if err != nil && !a.cfg.CloudFailureContinue {
			// The failed step may have applied part of its change: it is
			// undone too.
			done = append(done, act)
			fail(act.Name(), err)
			return
		}
		if err != nil {
			a.log.Error("cloud action failed; leading anyway (--cloud-failure-policy continue)", "term", l.Term, "action", act.Name(), "err", err)
		} else {
			a.log.Info("cloud action done", "term", l.Term, "action", act.Name(), "took", time.Since(t0).Round(time.Millisecond))
		}
		done = append(done, act)
	}
	if !l.Valid() {
		fail("deadline", fmt.Errorf("leadership ended during promotion"))
		return
	}
	if err := a.p.Probe.Lead(l.Valid, l.Deadline); err != nil {
		fail("probe", err)
		return
	}
	a.mu.Lock()
	a.promoteFails = 0
	a.leaderSince = time.Now()
	a.idleWarned = false
	a.mu.Unlock()
	a.m.promoteSeconds.Observe(time.Since(start).Seconds())
	a.setRole(RoleLeader, l.Term, "lease acquired; promoted in "+time.Since(start).Round(time.Microsecond).String())
}

// demote runs the demote sequence and releases the lease (graceful paths);
// the node then does not campaign for sitOut.
func (a *Agent) demote(ctx context.Context, reason string, sitOut time.Duration) {
	a.demoteWith(ctx, reason, true, sitOut)
}

// demoteWith: close the probe listener and in-flight probes, run demote
// hooks, remove the VIPs, release the lease (when release), role =
// follower (or standby).
func (a *Agent) demoteWith(ctx context.Context, reason string, release bool, sitOut time.Duration) {
	a.mu.Lock()
	l := a.lease
	a.lease = nil
	a.mu.Unlock()
	if l == nil {
		return
	}
	a.p.Probe.Follow()
	ev := a.cloudEvent(l, RoleFollower)
	for i := len(a.p.Actions) - 1; i >= 0; i-- {
		a.demoteAction(a.p.Actions[i], ev)
	}
	a.removeVIPs(l.Term)
	if release {
		if err := a.p.Engine.Release(ctx, sitOut); err != nil {
			a.log.Warn("lease release failed; it expires on its own", "term", l.Term, "err", err)
		}
	}
	role := RoleFollower
	if a.isStandby() {
		role = RoleStandby
	}
	a.setRole(role, l.Term, reason)
}

func (a *Agent) demoteAction(act cloud.Action, ev cloud.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := act.Demote(ctx, ev); err != nil {
		a.log.Warn("demote step failed", "term", ev.Term, "action", act.Name(), "err", err)
	}
}

func (a *Agent) removeVIPs(term uint64) {
	if a.p.VIPs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.p.VIPs.Remove(ctx); err != nil {
		a.log.Error("VIP removal failed", "term", term, "err", err)
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
func (a *Agent) healthChanged(ctx context.Context, healthy bool) {
	a.updateEligibility()
	if healthy {
		a.log.Info("application checks healthy")
		return
	}
	a.log.Warn("application checks failed")
	if a.currentRole() == RoleLeader {
		a.demote(ctx, "application checks failed", 0) // the unhealthy acquire delay keeps it out
	}
}

func (a *Agent) reconcile(ctx context.Context) {
	if a.p.VIPs == nil || a.currentRole() != RoleLeader {
		return
	}
	a.mu.Lock()
	l := a.lease
	a.mu.Unlock()
	if !l.Valid() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, a.cfg.ReconcileInterval)
	defer cancel()
	n, err := a.p.VIPs.Reconcile(rctx)
	if err != nil {
		a.log.Error("VIP reconcile failed", "term", l.Term, "err", err)
	}
	if n > 0 {
		a.log.Warn("VIPs re-added after someone removed them", "term", l.Term, "count", n)
	}
}

// monitorActions verifies and repairs cloud state while leading
// (LifeKeeper's quickCheck + local recovery).
func (a *Agent) monitorActions(ctx context.Context) {
	if len(a.p.Actions) == 0 || a.currentRole() != RoleLeader {
		return
	}
	a.mu.Lock()
	l := a.lease
	a.mu.Unlock()
	if !l.Valid() {
		return
	}
	ev := a.cloudEvent(l, RoleLeader)
	for _, act := range a.p.Actions {
		// Bounded by the lease (a fence cancels it) and by a cap long enough
		// for a repair that waits for propagation (Route53 INSYNC polls).
		mctx, cancel := context.WithTimeout(l.Context(), max(a.cfg.MonitorInterval, 2*time.Minute))
		repaired, err := act.Monitor(mctx, ev)
		cancel()
		switch {
		case err != nil:
			a.log.Error("cloud action check failed", "term", l.Term, "action", act.Name(), "err", err)
		case repaired:
			a.log.Warn("cloud state repaired", "term", l.Term, "action", act.Name())
		}
	}
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
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		a.demote(ctx, "no probe received for "+a.cfg.ProbeIdleTimeout.String(), 2*a.cfg.Timing.LeaseTTL)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
