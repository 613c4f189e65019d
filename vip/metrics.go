package vip

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	present       *prometheus.GaugeVec
	repairs       prometheus.Counter
	staleRemoved  prometheus.Counter
	announcements prometheus.Counter
	announceErrs  prometheus.Counter
	errors        *prometheus.CounterVec
	duration      *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		present: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lbhc_vip_present",
			Help: "1 if the VIP is configured on its interface as lbhc last observed, else 0.",
		}, []string{"vip"}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lbhc_vip_repairs_total",
			Help: "VIPs re-added by reconcile after someone removed them while leading, or removed because they were present while not leading.",
		}),
		staleRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lbhc_vip_stale_removed_total",
			Help: "lbhc's own VIPs left by an earlier run and removed at start-up.",
		}),
		announcements: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lbhc_vip_announcements_total",
			Help: "Gratuitous ARP and unsolicited neighbour advertisement frames sent.",
		}),
		announceErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lbhc_vip_announce_errors_total",
			Help: "Gratuitous ARP / neighbour advertisement rounds that failed.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbhc_vip_errors_total",
			Help: "Failed VIP operations by operation (add, remove, reconcile, cleanup).",
		}, []string{"op"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lbhc_vip_operation_duration_seconds",
			Help:    "Duration of VIP operations in seconds (add includes the first announcement round).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{m.present, m.repairs, m.staleRemoved,
		m.announcements, m.announceErrs, m.errors, m.duration} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		} else {
			done = append(done, c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// Leave the registry as it was, so that a later attempt (or
		// another part) can register these names.
		for _, c := range done {
			reg.Unregister(c)
		}
		return nil, err
	}
	return m, nil
}
