package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
)

// term is the worker of one leadership term. It does the slow work (VIPs,
// cloud actions and hooks, monitoring while leading, the demote steps) so
// that the control loop, which only decides, answers lease events, admin
// calls and /healthz within milliseconds. The loop learns that the worker
// finished through done and starts the next term only then.
type term struct {
	lease  *election.Lease
	ctx    context.Context // promote steps and monitoring; ends on stop or when the grant ends
	cancel context.CancelFunc
	stopc  chan stopReq  // capacity 1: the loop sends at most one request
	done   chan struct{} // closed when the worker returns

	// Written by the worker, read by the loop after done.
	released bool // the lease was released by the demotion

	// Loop goroutine only.
	stopping  bool
	releasing bool // the stop request releases the lease
	waiters   []waiter
}

// stopReq asks a term's worker to demote.
type stopReq struct {
	reason  string
	release bool          // give the lease back (graceful paths)
	sitOut  time.Duration // with release: do not campaign for this long
	// handover: after the release, tell the peers (switchover, standby,
	// graceful stop) so the chosen successor acquires at once.
	handover bool
	end      time.Time // the whole demotion, release included, fits before this
}

// waiter is an admin command answered when the term's worker is done.
type waiter struct {
	reply chan result
	res   result
}

// Budget shares of a demotion (fractions of the time left at its start).
// The release is a single backend round trip, reserved so that a slow hook
// cannot eat the time the successor needs to avoid waiting a lease TTL;
// VIP removal is a few netlink calls.
const (
	releaseShare = 4  // 1/4 of the budget reserved for the lease release
	vipShare     = 10 // 1/10 reserved for VIP removal
)

// startTerm starts the worker of a new grant. Loop goroutine only; a.cur
// must be nil.
func (a *Agent) startTerm(l *election.Lease) {
	ctx, cancel := context.WithCancel(l.Context())
	t := &term{lease: l, ctx: ctx, cancel: cancel, stopc: make(chan stopReq, 1), done: make(chan struct{})}
	a.mu.Lock()
	a.cur, a.lease, a.term, a.transition = t, l, l.Term, "promoting"
	a.mu.Unlock()
	go a.runTerm(t)
}

// stopTerm cancels the term's promotion or monitoring and asks its worker
// to demote. Only the first request counts. Loop goroutine only.
func (a *Agent) stopTerm(t *term, req stopReq) {
	if t.stopping {
		return
	}
	t.stopping, t.releasing = true, req.release
	t.stopc <- req
	t.cancel()
}

// termEnded answers the commands that waited for the worker and starts
// the grant that arrived meanwhile, if it is still valid. Loop only.
func (a *Agent) termEnded() {
	t := a.cur
	a.mu.Lock()
	a.cur, a.lease, a.transition = nil, nil, ""
	a.mu.Unlock()
	for _, w := range t.waiters {
		w.reply <- w.res
	}
	if l := a.pending; l != nil {
		a.pending = nil
		a.granted(l)
	}
}

// runTerm promotes, leads, then demotes when the loop asks.
func (a *Agent) runTerm(t *term) {
	defer close(t.done)
	// Demote steps of the previous term that were cut by their budget may
	// still be running: actions are used by one goroutine at a time. A
	// step that never returns must not keep the lease from everyone.
	var done []cloud.Action
	var out promoteOutcome
	if err := a.waitStragglers(t); err != nil {
		if t.ctx.Err() != nil {
			out = promoteCancelled
		} else {
			a.undoPromotion(t, "previous-term", err, nil)
			return
		}
	} else {
		done, out = a.promote(t)
	}
	switch out {
	case promoteFailed:
		return // undone and released by promote
	case promoted:
		a.lead(t)
	}
	req := <-t.stopc
	a.demote(t, req, done)
}

type promoteOutcome int

const (
	promoted promoteOutcome = iota
	promoteFailed
	promoteCancelled
)

// promote runs the promote sequence: VIPs, cloud actions (each verified),
// then the probe listener, then role = leader, so the load balancer sees
// the node healthy only when it is ready. Steps work under t.ctx, which
// ends when the grant ends or the loop stops the term. It returns the
// actions to undo and the outcome. On a failed step it undoes and releases
// itself; on cancellation it returns what to undo and leaves the demotion
// to the stop request.
func (a *Agent) promote(t *term) ([]cloud.Action, promoteOutcome) {
	l := t.lease
	start := time.Now()
	if a.p.VIPs != nil {
		if err := a.p.VIPs.Add(t.ctx); err != nil {
			if t.ctx.Err() != nil {
				return nil, promoteCancelled
			}
			a.undoPromotion(t, "vip", err, nil)
			return nil, promoteFailed
		}
	}
	ev := a.cloudEvent(l, RoleLeader)
	var done []cloud.Action
	for _, act := range a.p.Actions {
		t0 := time.Now()
		err := act.Promote(t.ctx, ev)
		// The step may have applied part of its change: it is undone too.
		done = append(done, act)
		if t.ctx.Err() != nil {
			a.log.Warn("promotion cancelled", "term", l.Term, "action", act.Name(), "after", time.Since(start).Round(time.Millisecond))
			return done, promoteCancelled
		}
		if err != nil && !a.cfg.CloudFailureContinue {
			a.undoPromotion(t, act.Name(), err, done)
			return nil, promoteFailed
		}
		if err != nil {
			a.log.Error("cloud action failed; leading anyway (--cloud-failure-policy continue)", "term", l.Term, "action", act.Name(), "err", err)
		} else {
			a.log.Info("cloud action done", "term", l.Term, "action", act.Name(), "took", time.Since(t0).Round(time.Millisecond))
		}
	}
	if t.ctx.Err() != nil {
		return done, promoteCancelled
	}
	if !l.Valid() {
		a.undoPromotion(t, "deadline", errors.New("leadership ended during promotion"), done)
		return nil, promoteFailed
	}
	// The kernel fence follows renewals as they land (no polling).
	l.OnExtend(a.p.Probe.DeadlineMoved)
	if err := a.p.Probe.Lead(l.Valid, l.Deadline); err != nil {
		a.undoPromotion(t, "probe", err, done)
		return nil, promoteFailed
	}
	a.mu.Lock()
	a.promoteFails, a.transition = 0, ""
	a.leaderSince = time.Now()
	a.idleWarned = false
	a.mu.Unlock()
	a.m.promoteSeconds.Observe(time.Since(start).Seconds())
	a.setRole(RoleLeader, l.Term, "lease acquired; promoted in "+time.Since(start).Round(time.Microsecond).String())
	return done, promoted
}

// undoPromotion undoes the steps done, releases the lease and backs off
// (doubling, up to 4 lease TTLs) so another node can lead.
func (a *Agent) undoPromotion(t *term, step string, err error, done []cloud.Action) {
	l := t.lease
	a.m.promoteFailures.WithLabelValues(step).Inc()
	a.log.Error("promotion failed; undoing and releasing the lease", "term", l.Term, "step", step, "err", err)
	a.mu.Lock()
	a.promoteFails++
	n := a.promoteFails
	a.mu.Unlock()
	backoff := min(a.cfg.Timing.RetryPeriod<<min(n, 10), 4*a.cfg.Timing.LeaseTTL)
	a.demote(t, stopReq{reason: fmt.Sprintf("promotion failed at %s: %v", step, err), release: true, sitOut: backoff,
		end: time.Now().Add(a.cfg.ShutdownTimeout)}, done)
}

// lead keeps the VIPs and the cloud state in shape while leading, until
// the term is stopped or its grant ends.
func (a *Agent) lead(t *term) {
	every := a.leadTick()
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastMonitor, lastReconcile := time.Now(), time.Now()
	for {
		select {
		case <-t.ctx.Done():
			return
		case now := <-tick.C:
			a.noteReterm(t)
			if due(now, lastReconcile, a.cfg.ReconcileInterval, every) {
				lastReconcile = now
				a.reconcile(t)
			}
			if due(now, lastMonitor, a.cfg.MonitorInterval, every) {
				lastMonitor = now
				a.monitorActions(t)
			}
		}
	}
}

// leadTick is how often a leader's worker wakes: the shorter of the VIP
// reconcile and cloud monitor periods (5 s by default), with a 50 ms floor.
// A duty is due from half a tick before its period ends (due), so a tick
// that arrives a little early does not postpone it by a whole tick.
func (a *Agent) leadTick() time.Duration {
	return max(min(a.cfg.ReconcileInterval, a.cfg.MonitorInterval), 50*time.Millisecond)
}

// demote runs the demote sequence within one budget (req.end): close the
// probe listener and in-flight probes, demote the actions in reverse
// order, remove the VIPs, release the lease (when req.release), role =
// follower (or standby). A step still running when its share of the budget
// is used up is cut: the sequence goes on without it.
func (a *Agent) demote(t *term, req stopReq, done []cloud.Action) {
	l := t.lease
	start := time.Now()
	a.mu.Lock()
	a.transition = "demoting"
	a.mu.Unlock()
	left := max(req.end.Sub(start), 0)
	releaseAt := req.end
	if req.release {
		releaseAt = req.end.Add(-left / releaseShare)
	}
	actionsEnd := releaseAt
	if a.p.VIPs != nil {
		actionsEnd = releaseAt.Add(-left / vipShare)
	}
	a.p.Probe.Follow()
	ev := a.cloudEvent(l, RoleFollower)
	for i := len(done) - 1; i >= 0; i-- {
		act := done[i]
		if err := a.step(l.Term, actionsEnd, "demote "+act.Name(), func(ctx context.Context) error { return act.Demote(ctx, ev) }); err != nil {
			a.log.Warn("demote step failed", "term", l.Term, "action", act.Name(), "err", err)
		}
	}
	if a.p.VIPs != nil {
		if err := a.step(l.Term, releaseAt, "vip removal", a.p.VIPs.Remove); err != nil {
			a.log.Error("VIP removal failed", "term", l.Term, "err", err)
		}
	}
	if req.release {
		ctx, cancel := context.WithDeadline(context.Background(), req.end)
		err := a.p.Engine.Release(ctx, req.sitOut)
		cancel()
		if err != nil {
			a.log.Warn("lease release failed; it expires on its own", "term", l.Term, "err", err)
		} else {
			t.released = true
			a.log.Info("lease released", "term", l.Term, "demotion_took", time.Since(start).Round(time.Millisecond))
			if req.handover && a.p.Peers != nil {
				target := a.p.Peers.handover(l.CurrentTerm())
				a.log.Info("handover sent to the peers", "term", l.CurrentTerm(), "target", target)
			}
		}
	}
	role := RoleFollower
	if a.isStandby() {
		role = RoleStandby
	}
	a.setRole(role, l.Term, req.reason)
}

func (a *Agent) reconcile(t *term) {
	if a.p.VIPs == nil || !t.lease.Valid() {
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, a.cfg.ReconcileInterval)
	defer cancel()
	n, err := a.p.VIPs.Reconcile(ctx)
	if err != nil && t.ctx.Err() == nil {
		a.log.Error("VIP reconcile failed", "term", t.lease.Term, "err", err)
	}
	if n > 0 {
		a.log.Warn("VIPs re-added after someone removed them", "term", t.lease.Term, "count", n)
	}
}

// monitorActions verifies and repairs cloud state while leading
// (LifeKeeper's quickCheck + local recovery).
func (a *Agent) monitorActions(t *term) {
	l := t.lease
	if len(a.p.Actions) == 0 || !l.Valid() {
		return
	}
	ev := a.cloudEvent(l, RoleLeader)
	for _, act := range a.p.Actions {
		// Bounded by the term (a fence or stop cancels it) and by a cap long
		// enough for a repair that waits for propagation (Route53 INSYNC).
		mctx, cancel := context.WithTimeout(t.ctx, max(a.cfg.MonitorInterval, 2*time.Minute))
		repaired, err := act.Monitor(mctx, ev)
		cancel()
		switch {
		case t.ctx.Err() != nil:
			return
		case err != nil:
			a.log.Error("cloud action check failed", "term", l.Term, "action", act.Name(), "err", err)
		case repaired:
			a.log.Warn("cloud state repaired", "term", l.Term, "action", act.Name())
		}
	}
}
