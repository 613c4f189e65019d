package cmdline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// registerGroupInfo exports lbhc_group_info{group,node} = 1. Every node of a
// group is its own scrape target, so the other series carry only the
// target's job/instance labels; alert rules and the dashboard join this
// series on (job, instance) to count leaders per group and name the node
// (packaging/prometheus/lbhc-rules.yaml records the joined series).
func registerGroupInfo(reg prometheus.Registerer, group, node string) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "lbhc_group_info",
		Help:        "Always 1; labels: group (--lease-name) and node (--node-id) of this agent.",
		ConstLabels: prometheus.Labels{"group": group, "node": node},
	})
	g.Set(1)
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("register group info: %w", err)
	}
	return nil
}
