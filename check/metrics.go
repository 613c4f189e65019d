package check

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	healthy  *prometheus.GaugeVec
	failures *prometheus.CounterVec
	duration *prometheus.HistogramVec
	all      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lbhc_check_healthy",
			Help: "1 when the application check is healthy (rise reached), 0 when unhealthy or not yet proven.",
		}, []string{"check"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbhc_check_failures_total",
			Help: "Failed runs of the application check.",
		}, []string{"check"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lbhc_check_duration_seconds",
			Help:    "Duration of application check runs, in seconds.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"check"}),
		all: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbhc_check_all_healthy",
			Help: "1 when every application check is healthy (or none is configured).",
		}),
	}
	if reg != nil {
		m.healthy = register(reg, m.healthy)
		m.failures = register(reg, m.failures)
		m.duration = register(reg, m.duration)
		m.all = register(reg, m.all)
	}
	return m
}

// register registers c, or returns the identical collector reg already has.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a conflicting metric of the same name: a programming error
	}
	return c
}
