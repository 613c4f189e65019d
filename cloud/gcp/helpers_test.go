package gcp

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

const (
	testProject = "lbhc-test-1"
	testNetwork = "vpc-a"
)

// testRetry keeps tests fast: 4 tries 5 ms apart, operations polled every
// 2 ms, 3 read-backs.
var testRetry = Retry{Tries: 4, Interval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond,
	AttemptTimeout: 2 * time.Second, Poll: 2 * time.Millisecond, OpTimeout: 2 * time.Second,
	CheckTries: 3, CheckInterval: 5 * time.Millisecond}

// newFake starts the Compute Engine fake with network vpc-a, another
// network vpc-b, and instances a (zone z-a), b (zone z-b), c (zone z-a)
// on vpc-a, each with one interface nic0.
func newFake(t *testing.T) *cloudtest.GCE {
	t.Helper()
	f := cloudtest.NewGCE(testProject)
	t.Cleanup(f.Close)
	f.AddNetwork(testNetwork)
	f.AddNetwork("vpc-b")
	for _, in := range []struct{ name, zone string }{{"a", "z-a"}, {"b", "z-b"}, {"c", "z-a"}} {
		f.AddInstance(cloudtest.GCEInstance{Name: "node-" + in.name, Zone: in.zone,
			NICs: []cloudtest.GCENIC{{Name: "nic0", Network: testNetwork}}})
	}
	return f
}

func testCompute(f *cloudtest.GCE, tokens *atomic.Int64) *Compute {
	c := &Compute{Endpoint: f.URL(), Project: testProject}
	if tokens != nil {
		c.Token = func(context.Context) (string, error) { tokens.Add(1); return "test-token", nil }
	}
	return c
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func leaderEvent(node string, term uint64, vips ...string) Event {
	ev := Event{Role: "leader", Term: term, NodeID: node, Leader: node, Valid: func() bool { return true }}
	for _, v := range vips {
		ev.VIPs = append(ev.VIPs, netip.MustParsePrefix(v))
	}
	return ev
}

// testMetrics returns metrics registered on their own registry, read back
// as Prometheus exports them.
func testMetrics() (*Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return cloud.NewMetrics(reg), reg
}

func metric(t *testing.T, reg *prometheus.Registry, which, action string) float64 {
	t.Helper()
	name := map[string]string{
		"failures": "lbhc_cloud_action_failures_total",
		"repairs":  "lbhc_cloud_action_repairs_total",
		"verified": "lbhc_cloud_action_verified",
	}[which]
	if name == "" {
		t.Fatalf("unknown metric %s", which)
	}
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
	t.Fatalf("metric %s{action=%q} not exported", name, action)
	return 0
}
