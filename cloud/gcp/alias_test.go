package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/lbhc/lbhc/cloud/cloudtest"
)

const testAliasVIP = "10.128.5.7/32"

func newAliasAction(t *testing.T, f *cloudtest.GCE, node string, m *Metrics, ranges ...string) *AliasIP {
	t.Helper()
	zone := map[string]string{"a": "z-a", "b": "z-b", "c": "z-a"}[node]
	cfg := AliasConfig{Zone: zone, Instance: "node-" + node, Network: testNetwork, Retry: testRetry}
	for _, r := range ranges {
		cfg.Ranges = append(cfg.Ranges, netip.MustParsePrefix(r))
	}
	a, err := NewAliasIP(cfg, testCompute(f, nil), testLog(t), m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func aliasesOf(t *testing.T, f *cloudtest.GCE, zone, name string) []string {
	t.Helper()
	in, ok := f.Instance(zone, name)
	if !ok {
		t.Fatalf("no instance %s/%s", zone, name)
	}
	return in.NICs[0].Aliases
}

// The range moves from the old owner (keeping its other range) to us
// (keeping ours).
func TestAliasPromoteMovesRangeFromOldOwner(t *testing.T) {
	f := newFake(t)
	m, reg := testMetrics()
	f.SetAliases("z-b", "node-b", "nic0", []string{"10.128.9.9/32", testAliasVIP})
	f.SetAliases("z-a", "node-a", "nic0", []string{"10.128.8.8/32"})
	a := newAliasAction(t, f, "a", m)
	if err := a.Promote(context.Background(), leaderEvent("a", 1, testAliasVIP)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := aliasesOf(t, f, "z-b", "node-b"); !slices.Equal(got, []string{"10.128.9.9/32"}) {
		t.Fatalf("old owner's aliases = %v", got)
	}
	if got := aliasesOf(t, f, "z-a", "node-a"); !slices.Equal(got, []string{"10.128.8.8/32", testAliasVIP}) {
		t.Fatalf("our aliases = %v", got)
	}
	if v := metric(t, reg, "verified", AliasActionName); v != 1 {
		t.Fatalf("verified = %v", v)
	}
	if st := a.Status(); st.State != "ok" || st.Detail != testAliasVIP+" -> node-a/nic0" {
		t.Fatalf("status = %+v", st)
	}
	if err := a.Promote(context.Background(), leaderEvent("a", 2, testAliasVIP)); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("instances.updateNetworkInterface"); n != 2 {
		t.Fatalf("updateNetworkInterface called %d times; the second promotion should only read", n)
	}
}

// An old owner whose only alias is the VIP ends with none: the update
// sends an explicit empty list (PATCH semantics leave an absent field
// alone, and then our add would fail with IP_IN_USE_BY_ANOTHER_RESOURCE).
// The owner is stopped: a TERMINATED instance still holds its aliases and
// is updated like a running one.
func TestAliasStoppedOldOwnerStillHoldingTheRange(t *testing.T) {
	f := newFake(t)
	m, _ := testMetrics()
	f.AddInstance(cloudtest.GCEInstance{Name: "node-old", Zone: "z-b", Status: "TERMINATED",
		NICs: []cloudtest.GCENIC{{Name: "nic0", Network: testNetwork, Aliases: []string{testAliasVIP}}}})
	if err := newAliasAction(t, f, "a", m).Promote(context.Background(), leaderEvent("a", 1, testAliasVIP)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := aliasesOf(t, f, "z-b", "node-old"); len(got) != 0 {
		t.Fatalf("stopped old owner still holds %v", got)
	}
	if got := aliasesOf(t, f, "z-a", "node-a"); !slices.Equal(got, []string{testAliasVIP}) {
		t.Fatalf("our aliases = %v", got)
	}
}

// When the old owner's update fails, the range stays there: the promotion
// fails naming the owner, nothing is added here, nothing is verified.
func TestAliasOldOwnerRemovalFailsNoClaim(t *testing.T) {
	f := newFake(t)
	m, reg := testMetrics()
	f.SetAliases("z-b", "node-b", "nic0", []string{testAliasVIP})
	f.FailOperation("instances.updateNetworkInterface", cloudtest.GCEFault{Status: 503, Reason: "ZONE_RESOURCE_POOL_EXHAUSTED_OR_UNAVAILABLE", Message: "zone z-b unavailable"})
	err := newAliasAction(t, f, "a", m).Promote(context.Background(), leaderEvent("a", 1, testAliasVIP))
	if err == nil || !strings.Contains(err.Error(), "node-b") {
		t.Fatalf("Promote = %v; want an error naming the old owner node-b", err)
	}
	var oe *OpError
	if !errors.As(err, &oe) {
		t.Fatalf("Promote = %v; want the operation error in the chain", err)
	}
	if got := aliasesOf(t, f, "z-a", "node-a"); len(got) != 0 {
		t.Fatalf("our aliases = %v although the owner still holds the range", got)
	}
	if got := aliasesOf(t, f, "z-b", "node-b"); !slices.Equal(got, []string{testAliasVIP}) {
		t.Fatalf("owner's aliases = %v", got)
	}
	if v := metric(t, reg, "verified", AliasActionName); v != 0 {
		t.Fatalf("verified = %v", v)
	}
	if v := metric(t, reg, "failures", AliasActionName); v != 1 {
		t.Fatalf("failures = %v", v)
	}
}

// Someone changes our interface between our read and our write: the write
// answers 412, we read again and write with the new fingerprint, keeping
// their change.
func TestAliasStaleFingerprintRereadsAndRetries(t *testing.T) {
	f := newFake(t)
	m, reg := testMetrics()
	f.BeforeNext("instances.updateNetworkInterface", func() {
		f.SetAliases("z-a", "node-a", "nic0", []string{"10.128.3.3/32"})
	})
	if err := newAliasAction(t, f, "a", m).Promote(context.Background(), leaderEvent("a", 1, testAliasVIP)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if n := f.Calls("instances.updateNetworkInterface"); n != 2 {
		t.Fatalf("updateNetworkInterface called %d times, want 2 (412, then success)", n)
	}
	if got := aliasesOf(t, f, "z-a", "node-a"); !slices.Equal(got, []string{"10.128.3.3/32", testAliasVIP}) {
		t.Fatalf("our aliases = %v; the concurrent change must survive", got)
	}
	if v := metric(t, reg, "failures", AliasActionName); v != 0 {
		t.Fatalf("failures = %v", v)
	}
}

// A range another interface grabs between our release and our add fails
// our operation with IP_IN_USE_BY_ANOTHER_RESOURCE: reported, never
// claimed.
func TestAliasRangeInUseIsAnOperationError(t *testing.T) {
	f := newFake(t)
	m, _ := testMetrics()
	f.BeforeNext("instances.updateNetworkInterface", func() {
		f.SetAliases("z-a", "node-c", "nic0", []string{testAliasVIP})
	})
	err := newAliasAction(t, f, "a", m).Promote(context.Background(), leaderEvent("a", 1, testAliasVIP))
	var oe *OpError
	if !errors.As(err, &oe) || oe.Code != "IP_IN_USE_BY_ANOTHER_RESOURCE" {
		t.Fatalf("Promote = %v; want IP_IN_USE_BY_ANOTHER_RESOURCE", err)
	}
	if got := aliasesOf(t, f, "z-a", "node-a"); len(got) != 0 {
		t.Fatalf("our aliases = %v", got)
	}
}

// Rate limits on reads and writes are retried; an explicit range (not a
// VIP) is moved the same way.
func TestAliasRateLimitsThenSuccessExplicitRange(t *testing.T) {
	f := newFake(t)
	m, _ := testMetrics()
	const rng = "10.128.16.0/29"
	f.SetAliases("z-b", "node-b", "nic0", []string{rng})
	f.FailNext("instances.get", 2, cloudtest.GCEFault{Status: 429, Reason: "rateLimitExceeded", Message: "Rate Limit Exceeded"})
	f.FailNext("instances.aggregatedList", 1, cloudtest.GCEFault{Status: 403, Reason: "rateLimitExceeded", Message: "Rate Limit Exceeded"})
	f.FailNext("instances.updateNetworkInterface", 1, cloudtest.GCEFault{Status: 403, Reason: "userRateLimitExceeded", Message: "User Rate Limit Exceeded"})
	if err := newAliasAction(t, f, "a", m, rng).Promote(context.Background(), leaderEvent("a", 1, testAliasVIP)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := aliasesOf(t, f, "z-a", "node-a"); !slices.Equal(got, []string{rng}) {
		t.Fatalf("our aliases = %v", got)
	}
	if got := aliasesOf(t, f, "z-b", "node-b"); len(got) != 0 {
		t.Fatalf("old owner still holds %v", got)
	}
}

// The monitor finds the range gone from our interface and adds it back.
func TestAliasMonitorRepairsDrift(t *testing.T) {
	f := newFake(t)
	m, reg := testMetrics()
	ctx := context.Background()
	a := newAliasAction(t, f, "a", m)
	ev := leaderEvent("a", 1, testAliasVIP)
	if err := a.Promote(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if repaired, err := a.Monitor(ctx, ev); err != nil || repaired {
		t.Fatalf("Monitor on intact state = %v, %v", repaired, err)
	}
	f.SetAliases("z-a", "node-a", "nic0", nil)
	f.SetAliases("z-b", "node-b", "nic0", []string{testAliasVIP}) // someone moved it by hand
	repaired, err := a.Monitor(ctx, ev)
	if err != nil || !repaired {
		t.Fatalf("Monitor after drift = %v, %v", repaired, err)
	}
	if got := aliasesOf(t, f, "z-a", "node-a"); !slices.Equal(got, []string{testAliasVIP}) {
		t.Fatalf("our aliases after repair = %v", got)
	}
	if v := metric(t, reg, "repairs", AliasActionName); v != 1 {
		t.Fatalf("repairs = %v", v)
	}
	ev.Valid = func() bool { return false }
	f.SetAliases("z-a", "node-a", "nic0", nil)
	if _, err := a.Monitor(ctx, ev); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Monitor after leadership ended = %v, want ErrNotLeader", err)
	}
	if got := aliasesOf(t, f, "z-a", "node-a"); len(got) != 0 {
		t.Fatalf("aliases written after leadership ended: %v", got)
	}
}

// The holder is found on a later page of the aggregated list.
func TestAliasOwnerOnALaterPage(t *testing.T) {
	f := newFake(t)
	f.PageSize = 2
	m, _ := testMetrics()
	for i := range 5 {
		f.AddInstance(cloudtest.GCEInstance{Name: fmt.Sprintf("other-%d", i), Zone: "z-c",
			NICs: []cloudtest.GCENIC{{Name: "nic0", Network: testNetwork}}})
	}
	f.AddInstance(cloudtest.GCEInstance{Name: "zz-holder", Zone: "z-z",
		NICs: []cloudtest.GCENIC{{Name: "nic0", Network: testNetwork, Aliases: []string{testAliasVIP}}}})
	if err := newAliasAction(t, f, "a", m).Promote(context.Background(), leaderEvent("a", 1, testAliasVIP)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := aliasesOf(t, f, "z-z", "zz-holder"); len(got) != 0 {
		t.Fatalf("holder still has %v", got)
	}
	if n := f.Calls("instances.aggregatedList"); n != 5 {
		t.Fatalf("aggregatedList called %d times; 9 instances in pages of 2 need 5", n)
	}
}
