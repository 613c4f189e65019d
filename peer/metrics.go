package peer

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the channel's series. Every counter the receive loop
// touches is resolved at start, so counting a refusal allocates nothing.
type metrics struct {
	refused [reasonEnd]prometheus.Counter
}

func newMetrics(n *Node, reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry() // a node without metrics (tests, tools)
	}
	m := &metrics{}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lbhc_peer_messages_refused_total",
		Help: "Peer datagrams refused, by reason: malformed, oversize, bad_mac, wrong_group, wrong_recipient, unknown_sender, replayed, stale.",
	}, []string{"reason"})
	for r := reasonMalformed; r < reasonEnd; r++ {
		m.refused[r] = refused.WithLabelValues(r.String())
	}
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lbhc_peer_messages_total",
		Help: "Authenticated peer messages accepted, by sender and kind.",
	}, []string{"peer", "kind"})
	cs := []prometheus.Collector{refused, received}
	for _, id := range n.ids {
		p := n.peers[id]
		for k := Status; k < kindEnd; k++ {
			p.received[k] = received.WithLabelValues(id, k.String())
		}
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "lbhc_peer_up",
			Help:        "1 when an authenticated message from the peer arrived within the last 3 heartbeat intervals.",
			ConstLabels: prometheus.Labels{"peer": id},
		}, func() float64 {
			if n.up(p) {
				return 1
			}
			return 0
		}))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// logEvery is how often one refusal reason may be logged: a flood of junk
// costs one line per reason per interval, not one per datagram.
const logEvery = time.Minute

// refusalLog limits refusal logs to one per reason per logEvery. It
// belongs to the receive loop.
type refusalLog struct {
	last       [reasonEnd]time.Time
	suppressed [reasonEnd]uint64
}

func (l *refusalLog) refused(log *slog.Logger, r reason, src netip.AddrPort, now time.Time) {
	if !l.last[r].IsZero() && now.Sub(l.last[r]) < logEvery {
		l.suppressed[r]++
		return
	}
	log.Warn("peer message refused", "reason", r.String(), "source", src.String(),
		"refused_unlogged", l.suppressed[r], "next_log_after", logEvery)
	l.last[r], l.suppressed[r] = now, 0
}
