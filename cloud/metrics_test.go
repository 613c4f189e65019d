package cloud

import (
	"errors"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Init("route53")
	done := m.Track("route53", OpPromote)
	done(errors.New("boom"))
	m.Track("route53", OpMonitor)(ErrNotLeader) // not a failure
	m.Repair("route53")
	m.SetVerified("route53", true)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{"lbhc_cloud_action_duration_seconds", "lbhc_cloud_action_failures_total", "lbhc_cloud_action_repairs_total", "lbhc_cloud_action_verified"}
	if !slices.Equal(names, want) {
		t.Fatalf("metrics = %q, want %q", names, want)
	}
	if v := testutil.ToFloat64(m.failures.WithLabelValues("route53")); v != 1 {
		t.Errorf("failures = %v, want 1", v)
	}
	if n := testutil.CollectAndCount(m.duration); n != 2 {
		t.Errorf("duration series = %d, want 2 (promote, monitor)", n)
	}
	if v := testutil.ToFloat64(m.verified.WithLabelValues("route53")); v != 1 {
		t.Errorf("verified = %v", v)
	}
	// A nil *Metrics records nothing and does not panic.
	var nm *Metrics
	nm.Init("x")
	nm.Track("x", OpPromote)(errors.New("e"))
	nm.Repair("x")
	nm.SetVerified("x", true)
}
