package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lbhc/lbhc/cloud/cloudtest"
)

const testVIP = "10.200.0.10/32"

func newRouteAction(t *testing.T, f *cloudtest.GCE, node string, m *Metrics) *Route {
	t.Helper()
	zone := map[string]string{"a": "z-a", "b": "z-b", "c": "z-a"}[node]
	a, err := NewRoute(RouteConfig{Group: "Web Group", NodeID: node, Network: testNetwork, Zone: zone,
		Instance: "node-" + node, Retry: testRetry}, testCompute(f, nil), testLog(t), m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// routesFor lists the fake's routes for dest as "name->instance".
func routesFor(f *cloudtest.GCE, dest string) []string {
	var out []string
	for _, r := range f.Routes() {
		if r.DestRange == dest {
			out = append(out, r.Name+"->"+r.NextHopInstance[strings.LastIndexByte(r.NextHopInstance, '/')+1:])
		}
	}
	return out
}

func TestRoutePromoteCreatesVerifiesAndIsIdempotent(t *testing.T) {
	f := newFake(t)
	f.OpPolls = 3
	m, reg := testMetrics()
	var tokens atomic.Int64
	a, err := NewRoute(RouteConfig{Group: "Web Group", NodeID: "a", Network: testNetwork, Zone: "z-a",
		Instance: "node-a", Retry: testRetry}, testCompute(f, &tokens), testLog(t), m)
	if err != nil {
		t.Fatal(err)
	}
	if v := metric(t, reg, "verified", RouteActionName); v != 0 {
		t.Fatalf("verified before promotion = %v", v)
	}
	if err := a.Promote(context.Background(), leaderEvent("a", 1, testVIP)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	want := RouteName("Web Group", "a", netip.MustParsePrefix(testVIP))
	if got := routesFor(f, testVIP); len(got) != 1 || got[0] != want+"->node-a" {
		t.Fatalf("routes for %s = %v, want [%s->node-a]", testVIP, got, want)
	}
	if n := f.Calls("operations.get"); n < 3 {
		t.Fatalf("the insert operation was polled %d times; it completes on the 3rd poll", n)
	}
	if tokens.Load() == 0 {
		t.Fatal("no request asked for an access token")
	}
	if st := a.Status(); st.State != "ok" || !strings.Contains(st.Detail, want) {
		t.Fatalf("status = %+v", st)
	}
	if v := metric(t, reg, "verified", RouteActionName); v != 1 {
		t.Fatalf("verified = %v", v)
	}
	if err := a.Promote(context.Background(), leaderEvent("a", 2, testVIP)); err != nil {
		t.Fatalf("second Promote: %v", err)
	}
	if n := f.Calls("routes.insert"); n != 1 {
		t.Fatalf("routes.insert called %d times; the second promotion should only read", n)
	}
}

// A failover creates the new route before the old one goes: at the moment
// the old route is deleted the new one exists and is complete.
func TestRouteFailoverCreatesBeforeDeleting(t *testing.T) {
	f := newFake(t)
	m, reg := testMetrics()
	ctx := context.Background()
	if err := newRouteAction(t, f, "a", m).Promote(ctx, leaderEvent("a", 1, testVIP)); err != nil {
		t.Fatal(err)
	}
	newName := RouteName("Web Group", "b", netip.MustParsePrefix(testVIP))
	var atDelete []string
	f.BeforeNext("routes.delete", func() { atDelete = routesFor(f, testVIP) })
	b := newRouteAction(t, f, "b", m)
	if err := b.Promote(ctx, leaderEvent("b", 2, testVIP)); err != nil {
		t.Fatalf("Promote b: %v", err)
	}
	if len(atDelete) != 2 || !strings.Contains(strings.Join(atDelete, " "), newName+"->node-b") {
		t.Fatalf("when the old route was deleted the routes were %v; want both, %s among them", atDelete, newName)
	}
	if got := routesFor(f, testVIP); len(got) != 1 || got[0] != newName+"->node-b" {
		t.Fatalf("routes after failover = %v", got)
	}
	if v := metric(t, reg, "failures", RouteActionName); v != 0 {
		t.Fatalf("failures = %v", v)
	}
}

// A route for the same destination in the same network that lbhc did not
// create (a different name, or an lbhc-like name without our description)
// is refused by name and never deleted; one in another network is no
// concern of ours.
func TestRouteForeignSameDestinationIsRefusedNotDeleted(t *testing.T) {
	for _, foreign := range []cloudtest.GCERoute{
		{Name: "ops-static-vip", Description: "made by hand"},
		{Name: routePrefix("Web Group") + "0123456789ab", Description: "not lbhc's"},
	} {
		t.Run(foreign.Name, func(t *testing.T) {
			f := newFake(t)
			m, reg := testMetrics()
			foreign.Network = "https://www.googleapis.com/compute/v1/projects/" + testProject + "/global/networks/" + testNetwork
			foreign.DestRange, foreign.Priority = testVIP, 900
			foreign.NextHopInstance = "https://www.googleapis.com/compute/v1/projects/" + testProject + "/zones/z-a/instances/node-c"
			f.PutRoute(foreign)
			// Same destination, other network: ignored.
			f.PutRoute(cloudtest.GCERoute{Name: "other-net", DestRange: testVIP, Priority: 1000,
				Network: "https://www.googleapis.com/compute/v1/projects/" + testProject + "/global/networks/vpc-b"})
			err := newRouteAction(t, f, "a", m).Promote(context.Background(), leaderEvent("a", 1, testVIP))
			if err == nil || !strings.Contains(err.Error(), `"`+foreign.Name+`"`) {
				t.Fatalf("Promote = %v; want a refusal naming %q", err, foreign.Name)
			}
			if n := f.Calls("routes.insert") + f.Calls("routes.delete"); n != 0 {
				t.Fatalf("%d route writes despite the foreign route", n)
			}
			if got := routesFor(f, testVIP); len(got) != 2 {
				t.Fatalf("routes = %v; the foreign and other-network routes must stay", got)
			}
			if v := metric(t, reg, "failures", RouteActionName); v != 1 {
				t.Fatalf("failures = %v", v)
			}
			if v := metric(t, reg, "verified", RouteActionName); v != 0 {
				t.Fatalf("verified = %v", v)
			}
		})
	}
}

// An insert accepted by the API whose operation then fails is a failure,
// reported with the operation's error code; nothing counts as verified.
func TestRouteOperationErrorFailsPromotion(t *testing.T) {
	f := newFake(t)
	m, reg := testMetrics()
	f.FailOperation("routes.insert", cloudtest.GCEFault{Status: 403, Reason: "QUOTA_EXCEEDED", Message: "Quota 'ROUTES' exceeded. Limit: 250.0 globally."})
	err := newRouteAction(t, f, "a", m).Promote(context.Background(), leaderEvent("a", 1, testVIP))
	var oe *OpError
	if !errors.As(err, &oe) || oe.Code != "QUOTA_EXCEEDED" || oe.HTTP != 403 {
		t.Fatalf("Promote = %v; want the operation's QUOTA_EXCEEDED error", err)
	}
	if got := routesFor(f, testVIP); len(got) != 0 {
		t.Fatalf("routes = %v", got)
	}
	if v := metric(t, reg, "failures", RouteActionName); v != 1 {
		t.Fatalf("failures = %v", v)
	}
	if st := newRouteAction(t, f, "a", m).Status(); st.State != "idle" {
		t.Fatalf("a fresh action's status = %+v", st)
	}
}

// Rate limits (403 rateLimitExceeded, 429) are retried with backoff; a
// resource quota (403 quotaExceeded) is not: waiting frees nothing.
func TestRouteRateLimitsRetriedQuotaNot(t *testing.T) {
	f := newFake(t)
	m, _ := testMetrics()
	f.FailNext("routes.list", 1, cloudtest.GCEFault{Status: 429, Reason: "rateLimitExceeded", Message: "Rate Limit Exceeded"})
	f.FailNext("routes.insert", 2, cloudtest.GCEFault{Status: 403, Reason: "rateLimitExceeded", Message: "Quota exceeded for quota metric 'Queries'"})
	f.FailNext("operations.get", 1, cloudtest.GCEFault{Status: 503, Reason: "backendError", Message: "Backend Error"})
	a := newRouteAction(t, f, "a", m)
	if err := a.Promote(context.Background(), leaderEvent("a", 1, testVIP)); err != nil {
		t.Fatalf("Promote after rate limits: %v", err)
	}
	if n := f.Calls("routes.insert"); n != 3 {
		t.Fatalf("routes.insert called %d times, want 3 (2 limited + 1)", n)
	}

	f2 := newFake(t)
	f2.FailNext("routes.insert", 1, cloudtest.GCEFault{Status: 403, Reason: "quotaExceeded", Message: "Quota 'ROUTES' exceeded."})
	err := newRouteAction(t, f2, "a", m).Promote(context.Background(), leaderEvent("a", 1, testVIP))
	if err == nil || apiStatus(err) != 403 {
		t.Fatalf("Promote = %v; want the 403 quotaExceeded", err)
	}
	if n := f2.Calls("routes.insert"); n != 1 {
		t.Fatalf("routes.insert called %d times; quotaExceeded must not be retried", n)
	}
}

// The monitor finds a deleted route and recreates it, counting a repair;
// a route of another node of the group that reappears is removed.
func TestRouteMonitorRepairsDrift(t *testing.T) {
	f := newFake(t)
	m, reg := testMetrics()
	ctx := context.Background()
	a := newRouteAction(t, f, "a", m)
	ev := leaderEvent("a", 1, testVIP)
	if err := a.Promote(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if repaired, err := a.Monitor(ctx, ev); err != nil || repaired {
		t.Fatalf("Monitor on intact state = %v, %v", repaired, err)
	}
	name := RouteName("Web Group", "a", netip.MustParsePrefix(testVIP))
	f.DeleteRoute(name)
	repaired, err := a.Monitor(ctx, ev)
	if err != nil || !repaired {
		t.Fatalf("Monitor after deletion = %v, %v", repaired, err)
	}
	if got := routesFor(f, testVIP); len(got) != 1 || got[0] != name+"->node-a" {
		t.Fatalf("routes after repair = %v", got)
	}
	if v := metric(t, reg, "repairs", RouteActionName); v != 1 {
		t.Fatalf("repairs = %v", v)
	}
	if st := a.Status(); st.State != "repaired" {
		t.Fatalf("status = %+v", st)
	}
}

// Once leadership has ended no route is written.
func TestRouteRefusesToWriteWhenNotLeader(t *testing.T) {
	f := newFake(t)
	m, reg := testMetrics()
	ev := leaderEvent("a", 1, testVIP)
	ev.Valid = func() bool { return false }
	err := newRouteAction(t, f, "a", m).Promote(context.Background(), ev)
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Promote = %v, want ErrNotLeader", err)
	}
	if n := f.Calls("routes.insert"); n != 0 {
		t.Fatalf("routes.insert called %d times", n)
	}
	if v := metric(t, reg, "failures", RouteActionName); v != 0 {
		t.Fatalf("failures = %v (ending leadership is no failure)", v)
	}
}

func TestRouteNameRules(t *testing.T) {
	vip := netip.MustParsePrefix(testVIP)
	seen := map[string]bool{}
	for _, g := range []string{"lbhc", "Web Group", "ÄÖÜ---x", strings.Repeat("very-long-group-", 8), "9-starts-with-digit", "___"} {
		for _, node := range []string{"a", "b"} {
			n := RouteName(g, node, vip)
			if !ValidName(n) || len(n) > 48 {
				t.Errorf("RouteName(%q, %q) = %q: not a valid Compute Engine name of <= 48 characters", g, node, n)
			}
			if !strings.HasPrefix(n, routePrefix(g)) {
				t.Errorf("RouteName(%q) = %q lacks the group prefix %q", g, n, routePrefix(g))
			}
			if seen[n] {
				t.Errorf("RouteName(%q, %q) = %q collides", g, node, n)
			}
			seen[n] = true
		}
	}
	if RouteName("g", "a", vip) == RouteName("g", "a", netip.MustParsePrefix("10.200.0.11/32")) {
		t.Error("two VIPs share a route name")
	}
}

// The ownership check sees every page of the route list: a foreign route
// for the destination on the last page is still refused, and every
// request carries the bearer token (the fake answers 401 otherwise).
func TestRouteListPagesAndToken(t *testing.T) {
	f := newFake(t)
	f.PageSize = 3
	f.Token = "test-token"
	m, _ := testMetrics()
	var tokens atomic.Int64
	net := "https://www.googleapis.com/compute/v1/projects/" + testProject + "/global/networks/" + testNetwork
	for i := range 8 {
		f.PutRoute(cloudtest.GCERoute{Name: fmt.Sprintf("filler-%d", i), Network: net, DestRange: fmt.Sprintf("10.9.%d.0/24", i), Priority: 1000})
	}
	f.PutRoute(cloudtest.GCERoute{Name: "zz-foreign", Network: net, DestRange: testVIP, Priority: 1000})
	a, err := NewRoute(RouteConfig{Group: "Web Group", NodeID: "a", Network: testNetwork, Zone: "z-a",
		Instance: "node-a", Retry: testRetry}, testCompute(f, &tokens), testLog(t), m)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Promote(context.Background(), leaderEvent("a", 1, testVIP))
	if err == nil || !strings.Contains(err.Error(), `"zz-foreign"`) {
		t.Fatalf("Promote = %v; want the foreign route on the last page refused", err)
	}
	if n := f.Calls("routes.list"); n != 3 {
		t.Fatalf("routes.list called %d times, want 3 pages", n)
	}
	f.DeleteRoute("zz-foreign")
	if err := a.Promote(context.Background(), leaderEvent("a", 2, testVIP)); err != nil {
		t.Fatalf("Promote with the token: %v", err)
	}
	a.c.Token = nil
	if err := a.Promote(context.Background(), leaderEvent("a", 3, testVIP)); apiStatus(err) != 401 {
		t.Fatalf("Promote without a token = %v, want the API's 401", err)
	}
}

// Our own route name pointing at another instance (this node's instance
// was recreated under another name or zone) is deleted first, then created
// again with the right next hop.
func TestRouteOwnNameWithWrongNextHopIsReplaced(t *testing.T) {
	f := newFake(t)
	m, _ := testMetrics()
	name := RouteName("Web Group", "a", netip.MustParsePrefix(testVIP))
	f.PutRoute(cloudtest.GCERoute{Name: name, Description: `lbhc group="Web Group" node="a"`, DestRange: testVIP, Priority: 1000,
		Network:         "https://www.googleapis.com/compute/v1/projects/" + testProject + "/global/networks/" + testNetwork,
		NextHopInstance: "https://www.googleapis.com/compute/v1/projects/" + testProject + "/zones/z-a/instances/node-c"})
	if err := newRouteAction(t, f, "a", m).Promote(context.Background(), leaderEvent("a", 1, testVIP)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := routesFor(f, testVIP); len(got) != 1 || got[0] != name+"->node-a" {
		t.Fatalf("routes = %v", got)
	}
}
