package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/cloud"
)

// PlatformWatcher delivers the cloud platform's notices for this VM
// (azure.AzureEventsWatcher, aws.AWSEventsWatcher in cloud/azure, cloud/aws). Watch runs in its own
// goroutine until ctx ends and sends the set in force whenever it changes;
// the control loop decides.
type PlatformWatcher interface {
	Watch(ctx context.Context, out chan<- cloud.PlatformNotices)
	// Acknowledge tells the platform it may start the event now (a no-op
	// where the platform has no such call).
	Acknowledge(ctx context.Context, id string) error
}

// Platform reactions.
const (
	platNone       = ""
	platSwitchover = "switchover" // leader: hand over, then hold
	platStandby    = "standby"    // follower: hold (do not campaign)
	platResume     = "resume"     // notices gone: campaign again
)

// platformState is the agent's memory of platform notices (under a.mu).
type platformState struct {
	hold       bool            // not campaigning until the notices are gone
	acted      map[string]bool // notice keys already acted on
	inForce    []cloud.PlatformNotice
	last       *cloud.PlatformNotice
	lastAction string
	lastAt     time.Time
	acked      []string
}

// PlatformStatus is the platform part of /status.
type PlatformStatus struct {
	Hold         bool                   `json:"hold"`
	InForce      []cloud.PlatformNotice `json:"in_force,omitempty"`
	LastNotice   *cloud.PlatformNotice  `json:"last_notice,omitempty"`
	LastAction   string                 `json:"last_action,omitempty"`
	LastActionAt time.Time              `json:"last_action_at,omitzero"`
	Acknowledged []string               `json:"acknowledged,omitempty"`
}

func noticeKey(n cloud.PlatformNotice) string { return n.Source + "/" + n.ID }

// decidePlatform is the reaction to a new set of notices: a notice not yet
// acted on makes a leader switch over and anyone else stand by; an empty set
// ends a hold. fresh are the notices not yet acted on.
func decidePlatform(role string, n cloud.PlatformNotices, acted map[string]bool, hold bool) (action string, fresh []cloud.PlatformNotice) {
	if len(n.Notices) == 0 {
		if hold {
			return platResume, nil
		}
		return platNone, nil
	}
	for _, x := range n.Notices {
		if !acted[noticeKey(x)] {
			fresh = append(fresh, x)
		}
	}
	if len(fresh) == 0 {
		return platNone, nil
	}
	if role == RoleLeader {
		return platSwitchover, fresh
	}
	return platStandby, fresh
}

type platformMetrics struct {
	notices   prometheus.Gauge
	notBefore prometheus.Gauge
	hold      prometheus.Gauge
	actions   *prometheus.CounterVec
	acks      *prometheus.CounterVec
}

func newPlatformMetrics(reg prometheus.Registerer) (*platformMetrics, error) {
	m := &platformMetrics{
		notices: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_platform_notices",
			Help: "Cloud platform notices (scheduled events, spot/rebalance/maintenance) in force for this VM."}),
		notBefore: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_platform_notice_not_before_timestamp_seconds",
			Help: "Earliest not-before time (Unix seconds) of the notices in force; 0 when none or none given."}),
		hold: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_platform_hold",
			Help: "1 while the node does not campaign because a platform notice is in force."}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbhc_platform_actions_total",
			Help: "Reactions to platform notices: switchover, standby, resume."}, []string{"action"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lbhc_platform_acks_total",
			Help: "Acknowledgements sent to the platform, by result (ok, error)."}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.notices, m.notBefore, m.hold, m.actions, m.acks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register platform metrics: %w", err)
		}
	}
	return m, nil
}

// watchPlatform starts the watcher; the returned channel is nil (never
// ready) without one.
func (a *Agent) watchPlatform(ctx context.Context) <-chan cloud.PlatformNotices {
	if a.p.Platform == nil {
		return nil
	}
	ch := make(chan cloud.PlatformNotices)
	go a.p.Platform.Watch(ctx, ch)
	return ch
}

// handlePlatform runs on the control loop.
func (a *Agent) handlePlatform(ctx context.Context, n cloud.PlatformNotices) {
	role := a.currentRole()
	a.mu.Lock()
	action, fresh := decidePlatform(role, n, a.plat.acted, a.plat.hold)
	a.plat.inForce = slices.Clone(n.Notices)
	var earliest time.Time
	for _, x := range n.Notices {
		if !x.NotBefore.IsZero() && (earliest.IsZero() || x.NotBefore.Before(earliest)) {
			earliest = x.NotBefore
		}
	}
	if len(fresh) > 0 {
		last := fresh[0]
		a.plat.last = &last
		if a.plat.acted == nil {
			a.plat.acted = map[string]bool{}
		}
		for _, x := range fresh {
			a.plat.acted[noticeKey(x)] = true
		}
	}
	switch action {
	case platSwitchover, platStandby:
		a.plat.hold = true
	case platResume:
		a.plat.hold, a.plat.acted = false, nil
	}
	if action != platNone {
		a.plat.lastAction, a.plat.lastAt = action, time.Now()
	}
	a.mu.Unlock()
	a.pm.notices.Set(float64(len(n.Notices)))
	if earliest.IsZero() {
		a.pm.notBefore.Set(0)
	} else {
		a.pm.notBefore.Set(float64(earliest.Unix()))
	}
	if action == platNone {
		return
	}
	a.pm.actions.WithLabelValues(action).Inc()
	a.pm.hold.Set(b2f(action != platResume))
	a.updateEligibility()
	reason := "platform notice " + describeNotices(fresh)
	switch action {
	case platSwitchover:
		a.log.Warn("platform notice for this VM while leading; switching over", "notices", describeNotices(fresh))
		sitOut := a.switchoverSitOut()
		// The term's worker demotes and releases; the loop goes on.
		a.stopCurrent(reason+": switchover", sitOut)
		// Acknowledge once a successor leads, or after the bound: the
		// platform then proceeds without waiting for NotBefore.
		go a.acknowledge(ctx, fresh, sitOut+a.cfg.Timing.LeaseTTL)
	case platStandby:
		a.log.Warn("platform notice for this VM; standing by until it is over", "notices", describeNotices(fresh))
		if a.cur != nil {
			// Still promoting: cancel and undo; the term ends in standby.
			a.stopCurrent(reason+": standby", 0)
		} else if role != RoleStandby {
			a.setRole(RoleStandby, a.termNow(), reason+": standby")
		}
		go a.acknowledge(ctx, fresh, 0)
	case platResume:
		if a.cur == nil && !a.isStandby() {
			a.setRole(RoleFollower, a.termNow(), "platform notices over: campaigning again")
		}
	}
}

// acknowledge waits up to bound for another node to lead, then
// acknowledges the ackable notices.
func (a *Agent) acknowledge(ctx context.Context, ns []cloud.PlatformNotice, bound time.Duration) {
	end := time.Now().Add(bound)
	for time.Now().Before(end) {
		if l := a.p.Engine.Status().Leader; l != "" && l != a.cfg.NodeID {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, n := range ns {
		if !n.Ackable {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.p.Platform.Acknowledge(actx, n.ID)
		cancel()
		if err != nil {
			a.pm.acks.WithLabelValues("error").Inc()
			a.log.Error("acknowledging platform event failed; the platform starts it at its not-before time", "event", n.ID, "err", err)
			continue
		}
		a.pm.acks.WithLabelValues("ok").Inc()
		a.log.Info("platform event acknowledged", "event", n.ID, "type", n.Type, "leader", a.p.Engine.Status().Leader)
		a.mu.Lock()
		a.plat.acked = append(a.plat.acked, n.ID)
		a.mu.Unlock()
	}
}

func describeNotices(ns []cloud.PlatformNotice) string {
	parts := make([]string, 0, len(ns))
	for _, n := range ns {
		s := n.Source + " " + n.Type + " " + n.ID
		if !n.NotBefore.IsZero() {
			s += " not before " + n.NotBefore.UTC().Format(time.RFC3339)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func (a *Agent) platformStatus() *PlatformStatus {
	if a.p.Platform == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &PlatformStatus{Hold: a.plat.hold, InForce: slices.Clone(a.plat.inForce), LastAction: a.plat.lastAction,
		LastActionAt: a.plat.lastAt, Acknowledged: slices.Clone(a.plat.acked)}
	if a.plat.last != nil {
		l := *a.plat.last
		s.LastNotice = &l
	}
	return s
}
