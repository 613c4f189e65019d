package azure

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

const (
	azSub = "00000000-1111-2222-3333-444444444444"
	azRG  = "rg-net"
)

var (
	azTable1 = AzureRouteTable{SubscriptionID: azSub, ResourceGroup: azRG, Name: "rt-app"}
	azTable2 = AzureRouteTable{SubscriptionID: azSub, ResourceGroup: azRG, Name: "rt-transit"}
	azVIP    = netip.MustParsePrefix("10.0.0.5/32")
	azHopA   = netip.MustParseAddr("10.0.1.4")
	azHopB   = netip.MustParseAddr("10.0.1.5")
)

func azFake(t *testing.T) *cloudtest.AzureARM {
	t.Helper()
	f := cloudtest.NewAzureARM()
	t.Cleanup(f.Close)
	f.AddRouteTable(azSub, azRG, azTable1.Name, "westeurope")
	f.AddRouteTable(azSub, azRG, azTable2.Name, "westeurope")
	return f
}

// azConfig points real armnetwork clients at the fake, with short waits.
func azConfig(f *cloudtest.AzureARM, hop netip.Addr, tables ...AzureRouteTable) AzureRouteConfig {
	return AzureRouteConfig{
		Tables:     tables,
		NextHop:    hop,
		Credential: cloudtest.AzureTestCredential{},
		ClientOptions: arm.ClientOptions{ClientOptions: policy.ClientOptions{
			Cloud: azcloud.Configuration{
				ActiveDirectoryAuthorityHost: "https://127.0.0.1/", // never used: static credential
				Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
					azcloud.ResourceManager: {Audience: f.URL(), Endpoint: f.URL()},
				},
			},
			Transport: f.Client(),
			Retry: policy.RetryOptions{
				RetryDelay:    5 * time.Millisecond,
				MaxRetryDelay: 3 * time.Second, // must exceed a 1 s Retry-After
			},
		}},
		PollInterval: 10 * time.Millisecond,
		Backoff:      10 * time.Millisecond,
	}
}

func azLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func azNew(t *testing.T, cfg AzureRouteConfig, m *cloud.Metrics) *AzureRoute {
	t.Helper()
	a, err := NewAzureRoute(cfg, azLog(t), m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func azEvent(node string, term uint64, valid func() bool, vips ...netip.Prefix) cloud.Event {
	if len(vips) == 0 {
		vips = []netip.Prefix{azVIP}
	}
	return cloud.Event{Role: "leader", Term: term, NodeID: node, Leader: node, VIPs: vips, Valid: valid}
}

func azValid() bool { return true }

// azWant checks that the fake holds the route pointing at hop, settled.
func azWant(t *testing.T, f *cloudtest.AzureARM, table AzureRouteTable, name, prefix string, hop netip.Addr) {
	t.Helper()
	r, ok := f.Route(table.SubscriptionID, table.ResourceGroup, table.Name, name)
	if !ok {
		t.Fatalf("route %s/%s missing", table.Name, name)
	}
	want := cloudtest.AzureRoute{AddressPrefix: prefix, NextHopType: "VirtualAppliance",
		NextHopIPAddress: hop.String(), ProvisioningState: "Succeeded", Etag: r.Etag}
	if r != want {
		t.Fatalf("route %s/%s = %+v, want %+v", table.Name, name, r, want)
	}
}

func azMetrics() (*cloud.Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return cloud.NewMetrics(reg), reg
}

// azGauge reads one lbhc_cloud_action_* series for action azure-route.
func azSeries(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == AzureRouteActionName {
					if m.Gauge != nil {
						return m.Gauge.GetValue()
					}
					return m.Counter.GetValue()
				}
			}
		}
	}
	t.Fatalf("series %s{action=%q} not found", name, AzureRouteActionName)
	return 0
}

func TestParseAzureRouteTable(t *testing.T) {
	full := "/subscriptions/" + azSub + "/resourceGroups/rg-net/providers/Microsoft.Network/routeTables/rt-app"
	tests := []struct {
		in, sub, rg string
		want        AzureRouteTable
		err         string
	}{
		{in: full, want: AzureRouteTable{azSub, "rg-net", "rt-app"}},
		{in: strings.ToLower(full), want: AzureRouteTable{azSub, "rg-net", "rt-app"}},
		{in: full + "/", want: AzureRouteTable{azSub, "rg-net", "rt-app"}},
		{in: "rt-app", sub: "s1", rg: "g1", want: AzureRouteTable{"s1", "g1", "rt-app"}},
		{in: "", err: "empty route table"},
		{in: "rt-app", err: `route table "rt-app" is a bare name but the subscription and resource group are unknown; give the full resource ID`},
		{in: "rt app", sub: "s", rg: "g", err: `route table "rt app": name "rt app" contains ' '; only letters, digits, '_', '.' and '-' are allowed`},
		{in: "subscriptions/x/resourceGroups/y/providers/Microsoft.Network/routeTables/z",
			err: `route table "subscriptions/x/resourceGroups/y/providers/Microsoft.Network/routeTables/z" is not a resource ID of the form /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Network/routeTables/{name}`},
		{in: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/routeTables/z/routes/r",
			err: `route table "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/routeTables/z/routes/r" is not a resource ID of the form /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Network/routeTables/{name}`},
		{in: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/z",
			err: `route table "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/z" has resource type Microsoft.Network/virtualNetworks, want Microsoft.Network/routeTables`},
		{in: "/subscriptions//resourceGroups/y/providers/Microsoft.Network/routeTables/z",
			err: `route table "/subscriptions//resourceGroups/y/providers/Microsoft.Network/routeTables/z" has an empty path segment`},
		{in: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/routeTables/-z",
			err: `route table "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/routeTables/-z": name "-z" must start with a letter or digit`},
	}
	for _, tc := range tests {
		got, err := ParseAzureRouteTable(tc.in, tc.sub, tc.rg)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseAzureRouteTable(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAzureRouteTable(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if got := azTable1.ID(); got != "/subscriptions/"+azSub+"/resourceGroups/rg-net/providers/Microsoft.Network/routeTables/rt-app" {
		t.Errorf("ID() = %q", got)
	}
}

func TestAzureRouteName(t *testing.T) {
	tests := []struct {
		tmpl, vip, want, err string
	}{
		{"", "10.0.0.5", "lbhc-10-0-0-5-32", ""},
		{"app-{vip}-rt", "10.0.0.5", "app-10-0-0-5-32-rt", ""},
		{"fixed_name", "10.0.0.5", "fixed_name", ""},
		{"", "fd00::5", "lbhc-fd00--5-128", ""},
		{"{vip}.", "10.0.0.5", "", `name "10-0-0-5-32." must end with a letter, digit or '_'`},
		{"a/{vip}", "10.0.0.5", "", `name "a/10-0-0-5-32" contains '/'; only letters, digits, '_', '.' and '-' are allowed`},
		{strings.Repeat("x", 81), "10.0.0.5", "", `name "` + strings.Repeat("x", 81) + `" must be 1 to 80 characters long`},
	}
	for _, tc := range tests {
		got, err := AzureRouteName(tc.tmpl, netip.MustParseAddr(tc.vip))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("AzureRouteName(%q, %s) error = %v, want %q", tc.tmpl, tc.vip, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("AzureRouteName(%q, %s) = %q, %v; want %q", tc.tmpl, tc.vip, got, err, tc.want)
		}
	}
}

func TestNewAzureRouteErrors(t *testing.T) {
	f := azFake(t)
	ok := azConfig(f, azHopA, azTable1)
	for _, tc := range []struct {
		mod func(*AzureRouteConfig)
		err string
	}{
		{func(c *AzureRouteConfig) { c.Tables = nil }, "azure-route: no route table configured"},
		{func(c *AzureRouteConfig) { c.NextHop = netip.Addr{} }, "azure-route: no next-hop private IP configured"},
		{func(c *AzureRouteConfig) { c.Credential = nil }, "azure-route: no credential configured"},
		{func(c *AzureRouteConfig) { c.RouteName = "bad name" }, `azure-route: route name: name "bad name" contains ' '; only letters, digits, '_', '.' and '-' are allowed`},
	} {
		cfg := ok
		tc.mod(&cfg)
		if _, err := NewAzureRoute(cfg, nil, nil); err == nil || err.Error() != tc.err {
			t.Errorf("error = %v, want %q", err, tc.err)
		}
	}
}

func TestAzureRoutePromoteWritesAndVerifies(t *testing.T) {
	f := azFake(t)
	f.AsyncPolls = 2
	m, reg := azMetrics()
	a := azNew(t, azConfig(f, azHopA, azTable1, azTable2), m)
	if got := a.Status().State; got != "idle" {
		t.Fatalf("initial state %q", got)
	}
	if err := a.Promote(context.Background(), azEvent("a", 7, azValid)); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []AzureRouteTable{azTable1, azTable2} {
		azWant(t, f, tb, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
	}
	if n := f.Count(http.MethodPut); n != 2 {
		t.Errorf("%d PUTs, want 2", n)
	}
	// Per table: GET (404) → PUT (201) → 2 polls InProgress, 1 Succeeded →
	// final GET by the poller → verify GET.
	var seq []string
	for _, r := range f.Requests() {
		kind := "route"
		if strings.Contains(r.Path, "/operations/") {
			kind = "op"
		}
		seq = append(seq, r.Method+" "+kind+" "+http.StatusText(r.Status))
	}
	want := []string{"GET route Not Found", "PUT route Created", "GET op OK", "GET op OK", "GET op OK", "GET route OK", "GET route OK"}
	want = append(want, want...)
	if strings.Join(seq, "|") != strings.Join(want, "|") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(seq, "\n"), strings.Join(want, "\n"))
	}
	st := a.Status()
	if st.State != "ok" || st.LastVerified.IsZero() || st.LastError != "" || st.Name != "azure-route" {
		t.Errorf("status = %+v", st)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_verified"); v != 1 {
		t.Errorf("verified = %v", v)
	}
	if n := testutil.CollectAndCount(reg, "lbhc_cloud_action_duration_seconds"); n != 1 {
		t.Errorf("%d duration series, want 1", n)
	}
}

func TestAzureRouteSkipsWhenAlreadyRight(t *testing.T) {
	f := azFake(t)
	for _, tb := range []AzureRouteTable{azTable1, azTable2} {
		f.SetRoute(azSub, azRG, tb.Name, "lbhc-10-0-0-5-32", cloudtest.AzureRoute{
			AddressPrefix: "10.0.0.5/32", NextHopType: "VirtualAppliance", NextHopIPAddress: azHopA.String()})
	}
	a := azNew(t, azConfig(f, azHopA, azTable1, azTable2), nil)
	if err := a.Promote(context.Background(), azEvent("a", 1, azValid)); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(http.MethodPut); n != 0 {
		t.Errorf("%d PUTs, want 0", n)
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("%d requests, want 2 GETs", n)
	}
}

func TestAzureRouteRewritesWrongOrUnsettledRoute(t *testing.T) {
	for name, r := range map[string]cloudtest.AzureRoute{
		"other hop":    {AddressPrefix: "10.0.0.5/32", NextHopType: "VirtualAppliance", NextHopIPAddress: azHopB.String()},
		"wrong type":   {AddressPrefix: "10.0.0.5/32", NextHopType: "None"},
		"wide prefix":  {AddressPrefix: "10.0.0.0/24", NextHopType: "VirtualAppliance", NextHopIPAddress: azHopA.String()},
		"failed state": {AddressPrefix: "10.0.0.5/32", NextHopType: "VirtualAppliance", NextHopIPAddress: azHopA.String(), ProvisioningState: "Failed"},
	} {
		t.Run(name, func(t *testing.T) {
			f := azFake(t)
			f.SetRoute(azSub, azRG, azTable1.Name, "lbhc-10-0-0-5-32", r)
			a := azNew(t, azConfig(f, azHopA, azTable1), nil)
			if err := a.Promote(context.Background(), azEvent("a", 1, azValid)); err != nil {
				t.Fatal(err)
			}
			azWant(t, f, azTable1, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
			if n := f.Count(http.MethodPut); n != 1 {
				t.Errorf("%d PUTs, want 1", n)
			}
		})
	}
}

func TestAzureRouteMonitorRepairsDrift(t *testing.T) {
	f := azFake(t)
	m, reg := azMetrics()
	a := azNew(t, azConfig(f, azHopA, azTable1, azTable2), m)
	ev := azEvent("a", 3, azValid)
	if err := a.Promote(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	repaired, err := a.Monitor(context.Background(), ev)
	if err != nil || repaired {
		t.Fatalf("Monitor on a right state = %v, %v", repaired, err)
	}
	// Someone (the portal, a stale node) points table 2 elsewhere.
	f.SetRoute(azSub, azRG, azTable2.Name, "lbhc-10-0-0-5-32", cloudtest.AzureRoute{
		AddressPrefix: "10.0.0.5/32", NextHopType: "VirtualAppliance", NextHopIPAddress: azHopB.String()})
	puts := f.Count(http.MethodPut)
	repaired, err = a.Monitor(context.Background(), ev)
	if err != nil || !repaired {
		t.Fatalf("Monitor after drift = %v, %v", repaired, err)
	}
	azWant(t, f, azTable2, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
	if n := f.Count(http.MethodPut) - puts; n != 1 {
		t.Errorf("repair made %d PUTs, want 1 (table 1 untouched)", n)
	}
	if st := a.Status(); st.State != "repaired" {
		t.Errorf("status = %+v", st)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_repairs_total"); v != 1 {
		t.Errorf("repairs = %v", v)
	}
	// Both tables drift: one pass, two PUTs, one repair (repairs count
	// monitor passes that had to write, as for the AWS actions).
	for _, tb := range []AzureRouteTable{azTable1, azTable2} {
		f.SetRoute(azSub, azRG, tb.Name, "lbhc-10-0-0-5-32", cloudtest.AzureRoute{
			AddressPrefix: "10.0.0.5/32", NextHopType: "VirtualAppliance", NextHopIPAddress: azHopB.String()})
	}
	puts = f.Count(http.MethodPut)
	if repaired, err := a.Monitor(context.Background(), ev); err != nil || !repaired {
		t.Fatalf("Monitor after drift in both tables = %v, %v", repaired, err)
	}
	if n := f.Count(http.MethodPut) - puts; n != 2 {
		t.Errorf("repair made %d PUTs, want 2", n)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_repairs_total"); v != 2 {
		t.Errorf("repairs = %v after a second repairing pass, want 2", v)
	}
	// Deleted route: recreated.
	f2 := azFake(t)
	b := azNew(t, azConfig(f2, azHopA, azTable1), nil)
	if repaired, err := b.Monitor(context.Background(), ev); err != nil || !repaired {
		t.Fatalf("Monitor with route missing = %v, %v", repaired, err)
	}
	azWant(t, f2, azTable1, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
}

func TestAzureRouteRetriesThrottlingAnd5xx(t *testing.T) {
	f := azFake(t)
	f.InjectFault(cloudtest.AzureFault{Method: "GET", Kind: "route", Count: 1, Status: 500,
		Error: cloudtest.AzureError{Code: "InternalServerError", Message: "boom"}})
	f.InjectFault(cloudtest.AzureFault{Method: "PUT", Kind: "route", Count: 1, Status: 429, RetryAfter: time.Second,
		Error: cloudtest.AzureError{Code: "RetryableError", Message: "A retryable error occurred."}})
	f.InjectFault(cloudtest.AzureFault{Kind: "operation", Count: 2, Status: 503,
		Error: cloudtest.AzureError{Code: "ServiceUnavailable", Message: "try later"}})
	a := azNew(t, azConfig(f, azHopA, azTable1), nil)
	start := time.Now()
	if err := a.Promote(context.Background(), azEvent("a", 1, azValid)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("Promote took %v; the 429's Retry-After of 1 s was not honoured", d)
	}
	azWant(t, f, azTable1, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
	got := map[int]int{}
	for _, r := range f.Requests() {
		got[r.Status]++
	}
	if got[500] != 1 || got[429] != 1 || got[503] != 2 {
		t.Errorf("status counts = %v", got)
	}
	if n := f.Count(http.MethodPut); n != 2 {
		t.Errorf("%d PUTs, want 2 (one throttled)", n)
	}
}

func TestAzureRouteFailedOperationAndConflictRetried(t *testing.T) {
	f := azFake(t)
	f.FailNextOperation(cloudtest.AzureError{Code: "InternalServerError", Message: "An error occurred."})
	f.InjectFault(cloudtest.AzureFault{Method: "PUT", Count: 1, Status: 409,
		Error: cloudtest.AzureError{Code: "AnotherOperationInProgress", Message: "Another operation on this or dependent resource is in progress."}})
	a := azNew(t, azConfig(f, azHopA, azTable1), nil)
	if err := a.Promote(context.Background(), azEvent("a", 1, azValid)); err != nil {
		t.Fatal(err)
	}
	azWant(t, f, azTable1, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
	// 409 (attempt 1), failed LRO (attempt 2), success (attempt 3).
	if n := f.Count(http.MethodPut); n != 3 {
		t.Errorf("%d PUTs, want 3", n)
	}
}

func TestAzureRouteGivesUpAfterAttempts(t *testing.T) {
	f := azFake(t)
	f.InjectFault(cloudtest.AzureFault{Method: "PUT", Count: 100, Status: 409,
		Error: cloudtest.AzureError{Code: "AnotherOperationInProgress", Message: "busy"}})
	m, reg := azMetrics()
	cfg := azConfig(f, azHopA, azTable1)
	cfg.Attempts = 2
	a := azNew(t, cfg, m)
	err := a.Promote(context.Background(), azEvent("a", 1, azValid))
	if err == nil || !strings.Contains(err.Error(), "AnotherOperationInProgress") || !strings.HasPrefix(err.Error(), "azure-route: rt-app/lbhc-10-0-0-5-32: create or update: ") {
		t.Fatalf("err = %v", err)
	}
	if n := f.Count(http.MethodPut); n != 2 {
		t.Errorf("%d PUTs, want 2", n)
	}
	// As for every action, /status keeps the error without the action's
	// name, which the entry already carries.
	if st := a.Status(); st.State != "failed" || "azure-route: "+st.LastError != err.Error() || st.Detail == "" {
		t.Errorf("status = %+v", st)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_failures_total"); v != 1 {
		t.Errorf("failures = %v", v)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_verified"); v != 0 {
		t.Errorf("verified = %v", v)
	}
}

func TestAzureRouteTableNotFoundIsNotRetried(t *testing.T) {
	f := azFake(t)
	missing := AzureRouteTable{SubscriptionID: azSub, ResourceGroup: azRG, Name: "rt-gone"}
	a := azNew(t, azConfig(f, azHopA, missing), nil)
	err := a.Promote(context.Background(), azEvent("a", 1, azValid))
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Fatalf("err = %v", err)
	}
	if n := f.Count(http.MethodPut); n != 1 {
		t.Errorf("%d PUTs, want 1", n)
	}
}

func TestAzureRouteSlowResponseRetried(t *testing.T) {
	f := azFake(t)
	f.InjectFault(cloudtest.AzureFault{Method: "GET", Kind: "route", Count: 1, Delay: 5 * time.Second})
	cfg := azConfig(f, azHopA, azTable1)
	cfg.ClientOptions.Retry.TryTimeout = 300 * time.Millisecond
	a := azNew(t, cfg, nil)
	start := time.Now()
	if err := a.Promote(context.Background(), azEvent("a", 1, azValid)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Promote took %v; the slow try was not abandoned", d)
	}
	azWant(t, f, azTable1, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
}

func TestAzureRouteRetryAfterOnLongRunningOperation(t *testing.T) {
	f := azFake(t)
	f.AsyncRetryAfter = time.Second
	a := azNew(t, azConfig(f, azHopA, azTable1), nil)
	start := time.Now()
	if err := a.Promote(context.Background(), azEvent("a", 1, azValid)); err != nil {
		t.Fatal(err)
	}
	// One InProgress poll with Retry-After: 1 → the poller waits 1 s.
	if d := time.Since(start); d < time.Second {
		t.Errorf("Promote took %v; Retry-After on the operation was not honoured", d)
	}
	azWant(t, f, azTable1, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
}

func TestAzureRouteDeadlinePassedNoWrite(t *testing.T) {
	f := azFake(t)
	f.SetRoute(azSub, azRG, azTable1.Name, "lbhc-10-0-0-5-32", cloudtest.AzureRoute{
		AddressPrefix: "10.0.0.5/32", NextHopType: "VirtualAppliance", NextHopIPAddress: azHopB.String()})
	m, reg := azMetrics()
	a := azNew(t, azConfig(f, azHopA, azTable1), m)
	ev := azEvent("a", 4, func() bool { return false })
	if err := a.Promote(context.Background(), ev); !errors.Is(err, cloud.ErrNotLeader) {
		t.Fatalf("Promote err = %v, want ErrNotLeader", err)
	}
	// Refusing to write after leadership ended is no failure of the action.
	if st := a.Status(); st.State != "idle" || st.LastError == "" {
		t.Errorf("status after the refusal = %+v, want idle with the refusal as last error", st)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_failures_total"); v != 0 {
		t.Errorf("failures = %v after a refusal, want 0", v)
	}
	if _, err := a.Monitor(context.Background(), ev); !errors.Is(err, cloud.ErrNotLeader) {
		t.Fatalf("Monitor err = %v, want ErrNotLeader", err)
	}
	if n := f.Count(http.MethodPut); n != 0 {
		t.Errorf("%d PUTs after the deadline, want 0", n)
	}
	azWant(t, f, azTable1, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopB)
}

// The SDK retries a throttled PUT by itself; if leadership ends while it
// waits, the retry must not be sent.
func TestAzureRouteDeadlinePassesDuringSDKRetry(t *testing.T) {
	f := azFake(t)
	f.InjectFault(cloudtest.AzureFault{Method: "PUT", Count: 1, Status: 429, RetryAfter: time.Second,
		Error: cloudtest.AzureError{Code: "RetryableError", Message: "throttled"}})
	a := azNew(t, azConfig(f, azHopA, azTable1), nil)
	deadline := time.Now().Add(500 * time.Millisecond)
	ev := azEvent("a", 5, func() bool { return time.Now().Before(deadline) })
	err := a.Promote(context.Background(), ev)
	if !errors.Is(err, cloud.ErrNotLeader) {
		t.Fatalf("err = %v, want ErrNotLeader", err)
	}
	if n := f.Count(http.MethodPut); n != 1 {
		t.Errorf("%d PUTs, want 1 (the throttled one only)", n)
	}
}

// Two nodes: A leads, loses its lease (Valid false), B takes over. A's
// monitor must not write back; the final state points at B.
func TestAzureRouteTwoAgentsRacing(t *testing.T) {
	f := azFake(t)
	a := azNew(t, azConfig(f, azHopA, azTable1, azTable2), nil)
	b := azNew(t, azConfig(f, azHopB, azTable1, azTable2), nil)
	var leader atomic.Value
	leader.Store("a")
	validFor := func(n string) func() bool { return func() bool { return leader.Load() == n } }
	evA, evB := azEvent("a", 1, validFor("a")), azEvent("b", 2, validFor("b"))
	if err := a.Promote(context.Background(), evA); err != nil {
		t.Fatal(err)
	}
	leader.Store("b")
	errc := make(chan error, 1)
	go func() { errc <- b.Promote(context.Background(), evB) }()
	for i := 0; i < 5; i++ {
		if _, err := a.Monitor(context.Background(), evA); err != nil && !errors.Is(err, cloud.ErrNotLeader) {
			t.Errorf("A monitor: %v", err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, err := a.Monitor(context.Background(), evA); !errors.Is(err, cloud.ErrNotLeader) {
		t.Errorf("A monitor after B leads: %v, want ErrNotLeader", err)
	}
	for _, tb := range []AzureRouteTable{azTable1, azTable2} {
		azWant(t, f, tb, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopB)
	}
}

func TestAzureRouteVIPValidation(t *testing.T) {
	f := azFake(t)
	two := []netip.Prefix{azVIP, netip.MustParsePrefix("10.0.0.6/32")}
	cfg := azConfig(f, azHopA, azTable1)
	cfg.RouteName = "vip-route"
	a := azNew(t, cfg, nil)
	err := a.Promote(context.Background(), azEvent("a", 1, azValid, two...))
	if want := `azure-route: route name "vip-route" has no {vip} placeholder but there are 2 VIPs`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	err = a.Promote(context.Background(), azEvent("a", 1, azValid, netip.MustParsePrefix("fd00::5/128")))
	if want := "azure-route: VIP fd00::5 and next hop 10.0.1.4 are of different address families"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("%d requests for an invalid event", n)
	}
	// Two VIPs with the template: one route each; a VIP given with its
	// interface prefix length still becomes a host route.
	cfg.RouteName = "vip-{vip}"
	b := azNew(t, cfg, nil)
	if err := b.Promote(context.Background(), azEvent("a", 1, azValid, netip.MustParsePrefix("10.0.0.5/24"), two[1])); err != nil {
		t.Fatal(err)
	}
	azWant(t, f, azTable1, "vip-10-0-0-5-32", "10.0.0.5/32", azHopA)
	azWant(t, f, azTable1, "vip-10-0-0-6-32", "10.0.0.6/32", azHopA)
}

func TestAzureRouteDemote(t *testing.T) {
	f := azFake(t)
	m, reg := azMetrics()
	a := azNew(t, azConfig(f, azHopA, azTable1), m)
	if err := a.Promote(context.Background(), azEvent("a", 1, azValid)); err != nil {
		t.Fatal(err)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_verified"); v != 1 {
		t.Fatalf("verified = %v after promote", v)
	}
	n := len(f.Requests())
	if err := a.Demote(context.Background(), cloud.Event{Role: "follower", Term: 1, NodeID: "a"}); err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != n {
		t.Error("Demote made requests; the route should stay for the next leader")
	}
	if st := a.Status(); st.State != "idle" {
		t.Errorf("status = %+v", st)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_verified"); v != 0 {
		t.Errorf("verified = %v after demote, want 0", v)
	}
	azWant(t, f, azTable1, "lbhc-10-0-0-5-32", "10.0.0.5/32", azHopA)
}

// The fake rejects what ARM rejects; checked with raw requests.
func TestAzureARMFakeProtocol(t *testing.T) {
	f := azFake(t)
	path := f.URL() + "/subscriptions/" + azSub + "/resourceGroups/" + azRG + "/providers/Microsoft.Network/routeTables/rt-app/routes/r1"
	do := func(method, url, token, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := f.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		method, url, token, body string
		want                     int
	}{
		{"GET", path + "?api-version=2024-05-01", "", "", 401},
		{"GET", path + "?api-version=2024-05-01", "wrong", "", 401},
		{"GET", path, cloudtest.AzureTestToken, "", 400},
		{"GET", path + "?api-version=2024-05-01", cloudtest.AzureTestToken, "", 404},
		{"PUT", path + "?api-version=2024-05-01", cloudtest.AzureTestToken, `{"properties":{"addressPrefix":"10.0.0.5/32","nextHopType":"VirtualAppliance"}}`, 400},
		{"PUT", path + "?api-version=2024-05-01", cloudtest.AzureTestToken, `{"properties":{"addressPrefix":"bad","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.0.4"}}`, 400},
		{"PUT", path + "?api-version=2024-05-01", cloudtest.AzureTestToken, `{"properties":{"addressPrefix":"10.0.0.5/32","nextHopType":"Internet","nextHopIpAddress":"10.0.0.4"}}`, 400},
		{"PUT", path + "?api-version=2024-05-01", cloudtest.AzureTestToken, `{"properties":{"addressPrefix":"10.0.0.5/32","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.0.4"}}`, 201},
		{"PUT", path + "?api-version=2024-05-01", cloudtest.AzureTestToken, `{"properties":{"addressPrefix":"10.0.0.5/32","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.0.4"}}`, 200},
		{"GET", path + "?api-version=2024-05-01", cloudtest.AzureTestToken, "", 200},
		{"DELETE", path + "?api-version=2024-05-01", cloudtest.AzureTestToken, "", 405},
	} {
		if got := do(tc.method, tc.url, tc.token, tc.body); got != tc.want {
			t.Errorf("%s %s (token %q) = %d, want %d", tc.method, tc.url, tc.token, got, tc.want)
		}
	}
	if r, _ := f.Route(azSub, azRG, "rt-app", "r1"); r.ProvisioningState != "Updating" {
		t.Errorf("route state before its operation completed = %q, want Updating", r.ProvisioningState)
	}
}

// A failed monitor check clears the verified gauge; the next pass that
// verifies sets it again.
func TestAzureRouteVerifiedFollowsChecks(t *testing.T) {
	f := azFake(t)
	m, reg := azMetrics()
	a := azNew(t, azConfig(f, azHopA, azTable1), m)
	ev := azEvent("a", 1, azValid)
	if err := a.Promote(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	f.SetRoute(azSub, azRG, azTable1.Name, "lbhc-10-0-0-5-32", cloudtest.AzureRoute{
		AddressPrefix: "10.0.0.5/32", NextHopType: "VirtualAppliance", NextHopIPAddress: azHopB.String()})
	f.InjectFault(cloudtest.AzureFault{Method: "PUT", Count: 1, Status: 403,
		Error: cloudtest.AzureError{Code: "AuthorizationFailed", Message: "no"}})
	if _, err := a.Monitor(context.Background(), ev); err == nil {
		t.Fatal("Monitor with a refused PUT succeeded")
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_verified"); v != 0 {
		t.Errorf("verified = %v after a failed check, want 0", v)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_repairs_total"); v != 0 {
		t.Errorf("repairs = %v after a failed repair, want 0", v)
	}
	if repaired, err := a.Monitor(context.Background(), ev); err != nil || !repaired {
		t.Fatalf("second Monitor = %v, %v", repaired, err)
	}
	if v := azSeries(t, reg, "lbhc_cloud_action_verified"); v != 1 {
		t.Errorf("verified = %v after a verified repair, want 1", v)
	}
	if st := a.Status(); st.State != "repaired" || st.LastError != "" {
		t.Errorf("status = %+v", st)
	}
}
