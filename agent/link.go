package agent

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LinkWatcher reports the link state of the VIP interface (vip.Manager;
// Linux only, elsewhere WatchLink returns errors.ErrUnsupported).
type LinkWatcher interface {
	// WatchLink sends true (up) / false (down) when first known and on
	// every change until ctx ends.
	WatchLink(ctx context.Context, out chan<- bool) error
	// Reannounce re-adds missing VIPs and announces them (while leading).
	Reannounce(ctx context.Context) error
}

// linkEvent is a link change as the control loop sees it: Held is set
// once the link has been down for the whole grace period.
type linkEvent struct {
	Up, Held bool
}

// newLinkGauge registers lbhc_vip_link_up.
func newLinkGauge(reg prometheus.Registerer) (prometheus.Gauge, error) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_vip_link_up",
		Help: "0 while the VIP interface is down or without carrier, else 1 (also when it is not watched)."})
	g.Set(1)
	return g, reg.Register(g)
}

// watchLink starts the watcher and the grace timer; nil channel without
// a watcher or with a zero grace.
func (a *Agent) watchLink(ctx context.Context) <-chan linkEvent {
	if a.p.Link == nil || a.cfg.VIPLinkGrace <= 0 {
		return nil
	}
	raw := make(chan bool)
	out := make(chan linkEvent)
	go func() {
		for {
			err := a.p.Link.WatchLink(ctx, raw)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errors.ErrUnsupported) {
				a.log.Warn("VIP interface link watching is Linux only; --vip-link-grace has no effect here")
				return
			}
			a.log.Error("watching the VIP interface link failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	go debounceLink(ctx, raw, out, a.cfg.VIPLinkGrace)
	return out
}

// debounceLink passes every change on and adds a Held "down" once the link
// has stayed down for grace.
func debounceLink(ctx context.Context, raw <-chan bool, out chan<- linkEvent, grace time.Duration) {
	var timer <-chan time.Time
	send := func(ev linkEvent) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case up := <-raw:
			if up {
				timer = nil
			} else if timer == nil {
				timer = time.After(grace)
			}
			if !send(linkEvent{Up: up}) {
				return
			}
		case <-timer:
			timer = nil
			if !send(linkEvent{Held: true}) {
				return
			}
		}
	}
}

// handleLink runs on the control loop. A link down for the grace period
// makes a leader hand over (its VIP is unreachable) and keeps the node out
// of the election until the link is back; a link that comes back re-adds
// and announces the VIPs if the node leads.
func (a *Agent) handleLink(ev linkEvent) {
	a.mu.Lock()
	wasHeld, wasDown := a.linkDown, a.linkState == "down"
	a.linkState = "down"
	if ev.Up {
		a.linkState, a.linkDown = "up", false
	} else if ev.Held {
		a.linkDown = true
	}
	held := a.linkDown
	a.mu.Unlock()
	a.linkUp.Set(b2f(ev.Up))
	role := a.currentRole()
	switch {
	case ev.Held && !wasHeld:
		a.updateEligibility()
		reason := "VIP interface " + a.cfg.VIPInterface + " link down for " + a.cfg.VIPLinkGrace.String()
		if role == RoleLeader {
			a.log.Warn("VIP interface link down while leading; handing over", "grace", a.cfg.VIPLinkGrace)
			a.stopCurrent(reason, 0) // the term's worker demotes and releases
		} else if a.cur != nil {
			a.stopCurrent(reason, 0) // still promoting: cancel and undo
		} else if role != RoleStandby {
			a.setRole(RoleStandby, a.termNow(), reason)
		}
	case ev.Up && wasHeld:
		a.updateEligibility()
		a.log.Info("VIP interface link up again; campaigning")
		if a.cur == nil && role == RoleStandby && !a.isStandby() {
			a.setRole(RoleFollower, a.termNow(), "VIP interface link up")
		}
	case ev.Up && wasDown && role == RoleLeader && !held && a.cur != nil:
		// A flap shorter than the grace: still leading, so make sure the
		// VIPs are there and neighbours learn this node again. Off the
		// loop, under the term's context (a demotion cancels it).
		tctx := a.cur.ctx
		go func() {
			rctx, cancel := context.WithTimeout(tctx, a.cfg.ShutdownTimeout)
			defer cancel()
			if err := a.p.Link.Reannounce(rctx); err != nil {
				a.log.Error("re-adding VIPs after the link came back failed", "err", err)
			}
		}()
	case !ev.Up && !ev.Held:
		a.log.Warn("VIP interface link down", "grace", a.cfg.VIPLinkGrace)
	}
}

func (a *Agent) vipLinkState() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.linkState
}
