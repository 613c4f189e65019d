package cloud

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the per-action Prometheus series shared by every cloud action
// (AWS and Azure alike). One *Metrics is created per registry and handed to
// each action's constructor. A nil *Metrics is valid and records nothing, so
// tests and callers without a registry need no special casing.
type Metrics struct {
	duration *prometheus.HistogramVec // seconds, labels action, op
	failures *prometheus.CounterVec   // labels action
	repairs  *prometheus.CounterVec   // labels action
	verified *prometheus.GaugeVec     // 1 = last verification matched, 0 = not; labels action
}

// Operation labels for ObserveDuration. Actions may use other short words
// too, but these keep dashboards uniform across clouds.
const (
	OpPromote = "promote"
	OpMonitor = "monitor"
	OpDemote  = "demote"
)

// NewMetrics creates the series and registers them on reg (nil reg: the
// series exist but are not exported, which is what unit tests want).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lbhc_cloud_action_duration_seconds",
			Help: "Duration of a cloud action operation (promote, monitor, demote) in seconds, including retries.",
			// 10 ms .. ~80 s: a Route53 change waiting for INSYNC can take a minute.
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"action", "op"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbhc_cloud_action_failures_total",
			Help: "Cloud action operations that failed after their retries.",
		}, []string{"action"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbhc_cloud_action_repairs_total",
			Help: "Times the monitor found cloud state not pointing at this node and rewrote it.",
		}, []string{"action"}),
		verified: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lbhc_cloud_action_verified",
			Help: "1 when the last verification found the cloud state pointing at this node, else 0.",
		}, []string{"action"}),
	}
	if reg != nil {
		reg.MustRegister(m.duration, m.failures, m.repairs, m.verified)
	}
	return m
}

// ObserveDuration records how long one operation of action took.
func (m *Metrics) ObserveDuration(action, op string, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(action, op).Observe(d.Seconds())
}

// Failure counts one failed operation of action.
func (m *Metrics) Failure(action string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(action).Inc()
}

// Repair counts one repair of drifted state by action.
func (m *Metrics) Repair(action string) {
	if m == nil {
		return
	}
	m.repairs.WithLabelValues(action).Inc()
}

// SetVerified records the outcome of action's last verification.
func (m *Metrics) SetVerified(action string, ok bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.verified.WithLabelValues(action).Set(v)
}

// Init creates action's series with zero values so they appear in /metrics
// before the first promotion (absent series make alerts silently pass).
func (m *Metrics) Init(action string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(action)
	m.repairs.WithLabelValues(action)
	m.verified.WithLabelValues(action).Set(0)
}

// Track is a convenience for the common pattern: call it at the start of an
// operation and call the returned func with the operation's error at the
// end; it records the duration and, when err != nil (other than
// ErrNotLeader), a failure.
//
//	done := m.Track("route53", cloud.OpPromote)
//	err := ...
//	done(err)
func (m *Metrics) Track(action, op string) func(err error) {
	start := time.Now()
	return func(err error) {
		m.ObserveDuration(action, op, time.Since(start))
		// Refusing to write after leadership ended is correct behaviour,
		// not a failure of the action.
		if err != nil && !errors.Is(err, ErrNotLeader) {
			m.Failure(action)
		}
	}
}
