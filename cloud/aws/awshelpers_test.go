package aws

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/cloud"
)

// awsTestConfig is an SDK config that talks to a cloudtest fake at url.
func awsTestConfig(url string) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLBHCTEST", "lbhc-test-secret", ""),
		BaseEndpoint: aws.String(url),
	}
}

// awsTestRetry keeps tests fast: 3 tries 5 ms apart, 2 s per call.
var awsTestRetry = AWSRetry{Tries: 3, Interval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond, AttemptTimeout: 2 * time.Second}

func awsTestLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(awsTestWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type awsTestWriter struct{ t *testing.T }

func (w awsTestWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// awsLeader models the lease for race tests: exactly the node whose name is
// stored is valid.
type awsLeader struct{ cur atomic.Value }

func (l *awsLeader) set(node string) { l.cur.Store(node) }

func (l *awsLeader) event(node string, term uint64) cloud.Event {
	return cloud.Event{Role: "leader", Term: term, NodeID: node, Leader: node, Valid: func() bool {
		v, _ := l.cur.Load().(string)
		return v == node
	}}
}

func awsValidEvent(node string, term uint64) cloud.Event {
	return cloud.Event{Role: "leader", Term: term, NodeID: node, Leader: node, Valid: func() bool { return true }}
}

func awsMetrics() (*cloud.Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m := cloud.NewMetrics(reg)
	metricsRegistry[m] = reg
	return m, reg
}

// metricsRegistry finds the registry of a *Metrics made by awsMetrics: the
// series are unexported fields of package cloud, read here as Prometheus
// exports them.
var metricsRegistry = map[*cloud.Metrics]*prometheus.Registry{}

func awsCounter(t *testing.T, m *cloud.Metrics, which, action string) float64 {
	t.Helper()
	name := map[string]string{
		"failures": "lbhc_cloud_action_failures_total",
		"repairs":  "lbhc_cloud_action_repairs_total",
		"verified": "lbhc_cloud_action_verified",
	}[which]
	reg := metricsRegistry[m]
	if name != "" && reg != nil {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, mt := range mf.GetMetric() {
				for _, l := range mt.GetLabel() {
					if l.GetName() == "action" && l.GetValue() == action {
						if g := mt.GetGauge(); g != nil {
							return g.GetValue()
						}
						return mt.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
	t.Fatalf("unknown metric %s", which)
	return 0
}
