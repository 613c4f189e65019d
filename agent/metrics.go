package agent

import (
	"fmt"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	isLeader        prometheus.Gauge
	term            prometheus.Gauge
	transitions     prometheus.Counter
	promoteFailures *prometheus.CounterVec
	promoteSeconds  prometheus.Histogram
	standby         prometheus.Gauge
	healthy         prometheus.Gauge
	probeIdle       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, cfg Config) (*metrics, error) {
	m := &metrics{
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_is_leader", Help: "1 while this node leads (owns VIPs, answers probes)."}),
		term:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_term", Help: "Fencing term of the current or last grant this node held."}),
		transitions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lbhc_leader_transitions_total", Help: "Role changes of this node."}),
		promoteFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbhc_promote_failures_total", Help: "Promotions undone, by the step that failed."}, []string{"step"}),
		promoteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "lbhc_promote_duration_seconds", Help: "Lease grant to probe listener open.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60}}),
		standby:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_standby", Help: "1 while the node is in operator standby (not campaigning)."}),
		healthy:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_healthy", Help: "1 while all application checks pass (or none are configured)."}),
		probeIdle: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_probe_idle", Help: "1 while leading without any load balancer probe for --probe-idle-timeout."}),
	}
	priority := prometheus.NewGauge(prometheus.GaugeOpts{Name: "lbhc_priority", Help: "Configured priority (1 is the best)."})
	priority.Set(float64(cfg.Priority))
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lbhc_build_info", Help: "Build information; always 1.",
		ConstLabels: prometheus.Labels{"version": cfg.Version, "goversion": runtime.Version(), "election": cfg.Election},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{m.isLeader, m.term, m.transitions, m.promoteFailures, m.promoteSeconds,
		m.standby, m.healthy, m.probeIdle, priority, build} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register agent metrics: %w", err)
		}
	}
	m.healthy.Set(1)
	return m, nil
}

func (m *metrics) setRole(role string, term uint64) {
	m.isLeader.Set(b2f(role == RoleLeader))
	m.term.Set(float64(term))
}
