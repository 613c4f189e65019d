package cloud

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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

func (l *awsLeader) event(node string, term uint64) Event {
	return Event{Role: "leader", Term: term, NodeID: node, Leader: node, Valid: func() bool {
		v, _ := l.cur.Load().(string)
		return v == node
	}}
}

func awsValidEvent(node string, term uint64) Event {
	return Event{Role: "leader", Term: term, NodeID: node, Leader: node, Valid: func() bool { return true }}
}

func awsMetrics() (*Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return NewMetrics(reg), reg
}

func awsCounter(t *testing.T, m *Metrics, which, action string) float64 {
	t.Helper()
	switch which {
	case "failures":
		return testutil.ToFloat64(m.failures.WithLabelValues(action))
	case "repairs":
		return testutil.ToFloat64(m.repairs.WithLabelValues(action))
	case "verified":
		return testutil.ToFloat64(m.verified.WithLabelValues(action))
	}
	t.Fatalf("unknown metric %s", which)
	return 0
}
