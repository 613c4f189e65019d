package aws

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

const ec2VIP = "192.168.100.10/32"

// newEC2Fixture: vpc-1 has rtb-1 and rtb-2 holding the VIP route (pointing
// at an old ENI) and rtb-3 without it; vpc-2 (another VPC behind the same
// Transit Gateway) has rtb-other holding the same VIP route.
func newEC2Fixture(t *testing.T) *cloudtest.EC2 {
	t.Helper()
	f := cloudtest.NewEC2()
	t.Cleanup(f.Close)
	f.AddENI(cloudtest.EC2ENI{ID: "eni-a", VPCID: "vpc-1", SubnetID: "subnet-1", InstanceID: "i-a", PrivateIPs: []string{"10.0.1.10", "10.0.1.11"}, SourceDestCheck: true})
	f.AddENI(cloudtest.EC2ENI{ID: "eni-b", VPCID: "vpc-1", SubnetID: "subnet-2", InstanceID: "i-b", PrivateIPs: []string{"10.0.2.10"}, SourceDestCheck: true})
	f.AddENI(cloudtest.EC2ENI{ID: "eni-old", VPCID: "vpc-1", SubnetID: "subnet-1", PrivateIPs: []string{"10.0.1.99"}, SourceDestCheck: false})
	f.AddENI(cloudtest.EC2ENI{ID: "eni-x", VPCID: "vpc-2", SubnetID: "subnet-9", InstanceID: "i-x", PrivateIPs: []string{"10.1.1.10"}})
	local := cloudtest.EC2Route{Destination: "10.0.0.0/16", GatewayID: "local"}
	f.AddRouteTable("rtb-1", "vpc-1", local, cloudtest.EC2Route{Destination: ec2VIP, NetworkInterfaceID: "eni-old"})
	f.AddRouteTable("rtb-2", "vpc-1", local, cloudtest.EC2Route{Destination: ec2VIP, NetworkInterfaceID: "eni-old", State: "blackhole"})
	f.AddRouteTable("rtb-3", "vpc-1", local)
	f.AddRouteTable("rtb-other", "vpc-2", cloudtest.EC2Route{Destination: "10.1.0.0/16", GatewayID: "local"}, cloudtest.EC2Route{Destination: ec2VIP, NetworkInterfaceID: "eni-x"})
	return f
}

func newEC2RouteAction(t *testing.T, f *cloudtest.EC2, cfg EC2RouteConfig, m *cloud.Metrics) *EC2Route {
	t.Helper()
	cfg.Retry = awsTestRetry
	cfg.CheckInterval, cfg.CheckTries = 5*time.Millisecond, 3
	return NewEC2Route(cfg, NewAWSEC2Client(awsTestConfig(f.URL())), awsTestLog(t), m)
}

func ec2Event(node string, term uint64, valid func() bool) cloud.Event {
	return cloud.Event{Role: "leader", Term: term, NodeID: node, VIPs: []netip.Prefix{netip.MustParsePrefix("192.168.100.10/24")}, Valid: valid}
}

func alwaysValid() bool { return true }

func ec2Target(t *testing.T, f *cloudtest.EC2, table string) string {
	t.Helper()
	r, ok := f.Route(table, ec2VIP)
	if !ok {
		return "(absent)"
	}
	return r.NetworkInterfaceID + "/" + r.State
}

func TestEC2RouteDiscoveryOnlyThisVPC(t *testing.T) {
	f := newEC2Fixture(t)
	m, _ := awsMetrics()
	a := newEC2RouteAction(t, f, EC2RouteConfig{VPCID: "vpc-1", ENIID: "eni-a", DisableSourceDestCheck: true}, m)
	if err := a.Promote(context.Background(), ec2Event("a", 5, alwaysValid)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	for _, tb := range []string{"rtb-1", "rtb-2"} {
		if got := ec2Target(t, f, tb); got != "eni-a/active" {
			t.Errorf("%s VIP route -> %s, want eni-a/active", tb, got)
		}
	}
	if got := ec2Target(t, f, "rtb-other"); got != "eni-x/active" {
		t.Errorf("other VPC's table changed: %s", got)
	}
	if got := ec2Target(t, f, "rtb-3"); got != "(absent)" {
		t.Errorf("rtb-3 got a route without --ec2-create-route: %s", got)
	}
	for _, w := range f.Writes() {
		if strings.Contains(w, "rtb-other") {
			t.Errorf("write to another VPC's table: %s", w)
		}
	}
	if e, _ := f.ENI("eni-a"); e.SourceDestCheck {
		t.Error("source/dest check still on")
	}
	want := []string{
		"ModifyNetworkInterfaceAttribute eni-a sourceDestCheck=false",
		"ReplaceRoute rtb-1 192.168.100.10/32 eni-a",
		"ReplaceRoute rtb-2 192.168.100.10/32 eni-a",
	}
	if w := f.Writes(); !slices.Equal(w, want) {
		t.Errorf("writes = %q, want %q", w, want)
	}
	if st := a.Status(); st.State != "ok" || !strings.Contains(st.Detail, "rtb-1, rtb-2") {
		t.Errorf("status = %+v", st)
	}
	// Already right: a second promotion only reads.
	n := len(f.Writes())
	if err := a.Promote(context.Background(), ec2Event("a", 6, alwaysValid)); err != nil {
		t.Fatalf("second Promote: %v", err)
	}
	if w := f.Writes(); len(w) != n {
		t.Errorf("second promote wrote: %q", w[n:])
	}
}

func TestEC2RouteExplicitTables(t *testing.T) {
	t.Run("create allowed", func(t *testing.T) {
		f := newEC2Fixture(t)
		a := newEC2RouteAction(t, f, EC2RouteConfig{RouteTables: []string{"rtb-1", "rtb-3"}, VPCID: "vpc-1", ENIID: "eni-a", CreateRoute: true}, nil)
		if err := a.Promote(context.Background(), ec2Event("a", 1, alwaysValid)); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if got := ec2Target(t, f, "rtb-3"); got != "eni-a/active" {
			t.Errorf("rtb-3 -> %s", got)
		}
		if got := ec2Target(t, f, "rtb-2"); got != "eni-old/blackhole" {
			t.Errorf("rtb-2 (not named) changed: %s", got)
		}
	})
	t.Run("missing route without create", func(t *testing.T) {
		f := newEC2Fixture(t)
		a := newEC2RouteAction(t, f, EC2RouteConfig{RouteTables: []string{"rtb-1", "rtb-3"}, VPCID: "vpc-1", ENIID: "eni-a"}, nil)
		err := a.Promote(context.Background(), ec2Event("a", 1, alwaysValid))
		if err == nil || err.Error() != "ec2-route: route table rtb-3 has no route for 192.168.100.10/32 (allow creating it with --ec2-create-route)" {
			t.Fatalf("err = %v", err)
		}
		if w := f.Writes(); len(w) != 0 {
			t.Errorf("writes = %q", w)
		}
	})
	t.Run("table of another VPC refused", func(t *testing.T) {
		f := newEC2Fixture(t)
		a := newEC2RouteAction(t, f, EC2RouteConfig{RouteTables: []string{"rtb-1", "rtb-other"}, VPCID: "vpc-1", ENIID: "eni-a"}, nil)
		err := a.Promote(context.Background(), ec2Event("a", 1, alwaysValid))
		if err == nil || err.Error() != "ec2-route: route table rtb-other belongs to vpc-2, not this node's VPC vpc-1" {
			t.Fatalf("err = %v", err)
		}
		if w := f.Writes(); len(w) != 0 {
			t.Errorf("writes = %q", w)
		}
	})
	t.Run("unknown table", func(t *testing.T) {
		f := newEC2Fixture(t)
		a := newEC2RouteAction(t, f, EC2RouteConfig{RouteTables: []string{"rtb-nope"}, VPCID: "vpc-1", ENIID: "eni-a"}, nil)
		err := a.Promote(context.Background(), ec2Event("a", 1, alwaysValid))
		if awsErrCode(err) != "InvalidRouteTableID.NotFound" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("vpc from the ENI", func(t *testing.T) {
		f := newEC2Fixture(t)
		a := newEC2RouteAction(t, f, EC2RouteConfig{ENIID: "eni-a"}, nil)
		if err := a.Promote(context.Background(), ec2Event("a", 1, alwaysValid)); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if got := ec2Target(t, f, "rtb-other"); got != "eni-x/active" {
			t.Errorf("other VPC's table changed: %s", got)
		}
	})
}

func TestEC2RouteNothingDiscovered(t *testing.T) {
	f := newEC2Fixture(t)
	a := newEC2RouteAction(t, f, EC2RouteConfig{VPCID: "vpc-1", ENIID: "eni-a"}, nil)
	ev := ec2Event("a", 1, alwaysValid)
	ev.VIPs = []netip.Prefix{netip.MustParsePrefix("192.168.200.1/32")}
	err := a.Promote(context.Background(), ev)
	want := "ec2-route: no route table in vpc-1 has a route for 192.168.200.1/32 (name tables with --ec2-route-table, and --ec2-create-route to create the route)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestEC2RouteMonitorRepairs(t *testing.T) {
	f := newEC2Fixture(t)
	m, _ := awsMetrics()
	a := newEC2RouteAction(t, f, EC2RouteConfig{VPCID: "vpc-1", ENIID: "eni-a", CreateRoute: true}, m)
	ev := ec2Event("a", 2, alwaysValid)
	if err := a.Promote(context.Background(), ev); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if rep, err := a.Monitor(context.Background(), ev); rep || err != nil {
		t.Fatalf("Monitor on good state = %v, %v", rep, err)
	}
	// Someone points rtb-1 elsewhere and deletes the route from rtb-2.
	f.SetRoute("rtb-1", cloudtest.EC2Route{Destination: ec2VIP, InstanceID: "i-b"})
	f.DeleteRoute("rtb-2", ec2VIP)
	rep, err := a.Monitor(context.Background(), ev)
	if err != nil || !rep {
		t.Fatalf("Monitor after drift = %v, %v", rep, err)
	}
	for _, tb := range []string{"rtb-1", "rtb-2"} {
		if got := ec2Target(t, f, tb); got != "eni-a/active" {
			t.Errorf("%s -> %s after repair", tb, got)
		}
	}
	if got := ec2Target(t, f, "rtb-other"); got != "eni-x/active" {
		t.Errorf("other VPC's table changed: %s", got)
	}
	if n := awsCounter(t, m, "repairs", "ec2-route"); n != 1 {
		t.Errorf("repairs = %v", n)
	}
}

func TestEC2RouteRetriesTransientErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    string
		fault cloudtest.AWSFault
	}{
		{"throttled replace", "ReplaceRoute", cloudtest.AWSFault{Status: 503, Code: "RequestLimitExceeded", Message: "Request limit exceeded."}},
		{"500 on describe", "DescribeRouteTables", cloudtest.AWSFault{Status: 500, Code: "InternalError", Message: "An internal error has occurred"}},
		{"unavailable", "ReplaceRoute", cloudtest.AWSFault{Status: 503, Code: "Unavailable", Message: "The server is overloaded"}},
		{"dropped connection", "ReplaceRoute", cloudtest.AWSFault{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEC2Fixture(t)
			f.Faults.FailNext(tc.op, 2, tc.fault)
			a := newEC2RouteAction(t, f, EC2RouteConfig{VPCID: "vpc-1", ENIID: "eni-a"}, nil)
			if err := a.Promote(context.Background(), ec2Event("a", 1, alwaysValid)); err != nil {
				t.Fatalf("Promote: %v", err)
			}
			if got := ec2Target(t, f, "rtb-1"); got != "eni-a/active" {
				t.Errorf("rtb-1 -> %s", got)
			}
		})
	}
	t.Run("access denied not retried", func(t *testing.T) {
		f := newEC2Fixture(t)
		f.Faults.FailNext("ReplaceRoute", 1, cloudtest.AWSFault{Status: 403, Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation."})
		a := newEC2RouteAction(t, f, EC2RouteConfig{RouteTables: []string{"rtb-1"}, VPCID: "vpc-1", ENIID: "eni-a"}, nil)
		err := a.Promote(context.Background(), ec2Event("a", 1, alwaysValid))
		if awsErrCode(err) != "UnauthorizedOperation" {
			t.Fatalf("err = %v", err)
		}
		if n := f.Faults.Calls("ReplaceRoute"); n != 1 {
			t.Errorf("ReplaceRoute calls = %d, want 1", n)
		}
	})
}

func TestEC2RouteDeadlinePassedNoWrite(t *testing.T) {
	f := newEC2Fixture(t)
	a := newEC2RouteAction(t, f, EC2RouteConfig{VPCID: "vpc-1", ENIID: "eni-a", DisableSourceDestCheck: true}, nil)
	err := a.Promote(context.Background(), ec2Event("a", 1, func() bool { return false }))
	if !errors.Is(err, cloud.ErrNotLeader) {
		t.Fatalf("err = %v, want ErrNotLeader", err)
	}
	if w := f.Writes(); len(w) != 0 {
		t.Fatalf("writes after deadline: %q", w)
	}
	if n := f.Faults.Calls("ReplaceRoute") + f.Faults.Calls("ModifyNetworkInterfaceAttribute"); n != 0 {
		t.Fatalf("%d mutating requests sent", n)
	}
}

func TestEC2RouteTwoAgentsRacing(t *testing.T) {
	f := newEC2Fixture(t)
	var lease awsLeader
	a := newEC2RouteAction(t, f, EC2RouteConfig{VPCID: "vpc-1", ENIID: "eni-a"}, nil)
	b := newEC2RouteAction(t, f, EC2RouteConfig{VPCID: "vpc-1", ENIID: "eni-b"}, nil)
	lease.set("a")
	vipsA, vipsB := ec2Event("a", 1, nil), ec2Event("b", 2, nil)
	evA, evB := lease.event("a", 1), lease.event("b", 2)
	evA.VIPs, evB.VIPs = vipsA.VIPs, vipsB.VIPs
	if err := a.Promote(context.Background(), evA); err != nil {
		t.Fatalf("a Promote: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			default:
			}
			a.Monitor(ctx, evA)
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	lease.set("")
	time.Sleep(20 * time.Millisecond)
	lease.set("b")
	if err := b.Promote(ctx, evB); err != nil {
		t.Fatalf("b Promote: %v", err)
	}
	for range 3 {
		if _, err := b.Monitor(ctx, evB); err != nil {
			t.Fatalf("b Monitor: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	for _, tb := range []string{"rtb-1", "rtb-2"} {
		if got := ec2Target(t, f, tb); got != "eni-b/active" {
			t.Errorf("%s -> %s, want the current leader's eni-b", tb, got)
		}
	}
	aWrites := 0
	for _, w := range f.Writes() {
		if strings.HasSuffix(w, " eni-a") {
			aWrites++
		}
	}
	if aWrites != 2 { // its own promotion: rtb-1 and rtb-2
		t.Errorf("a wrote %d routes, want 2: %q", aWrites, f.Writes())
	}
}

func TestEC2Plan(t *testing.T) {
	vip := netip.MustParsePrefix("192.168.100.10/32")
	v6 := netip.MustParsePrefix("2001:db8::10/128")
	rt := func(id string, routes ...ec2types.Route) ec2types.RouteTable {
		return ec2types.RouteTable{RouteTableId: aws.String(id), Routes: routes}
	}
	to := func(dest, eni string, state ec2types.RouteState) ec2types.Route {
		r := ec2types.Route{NetworkInterfaceId: aws.String(eni), State: state}
		if strings.Contains(dest, ":") {
			r.DestinationIpv6CidrBlock = aws.String(dest)
		} else {
			r.DestinationCidrBlock = aws.String(dest)
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		tables  []ec2types.RouteTable
		dests   []netip.Prefix
		create  bool
		want    []string
		wantErr string
	}{
		{"all good", []ec2types.RouteTable{rt("r1", to("192.168.100.10/32", "eni-a", "active"))}, []netip.Prefix{vip}, false, nil, ""},
		{"other eni", []ec2types.RouteTable{rt("r1", to("192.168.100.10/32", "eni-b", "active"))}, []netip.Prefix{vip}, false, []string{"r1 192.168.100.10/32 replace was eni-b"}, ""},
		{"blackhole of ours", []ec2types.RouteTable{rt("r1", to("192.168.100.10/32", "eni-a", "blackhole"))}, []netip.Prefix{vip}, false, []string{"r1 192.168.100.10/32 replace was eni-a (blackhole)"}, ""},
		{"missing, create", []ec2types.RouteTable{rt("r1")}, []netip.Prefix{vip}, true, []string{"r1 192.168.100.10/32 create was (absent)"}, ""},
		{"missing, no create", []ec2types.RouteTable{rt("r1")}, []netip.Prefix{vip}, false, nil, "route table r1 has no route for 192.168.100.10/32 (allow creating it with --ec2-create-route)"},
		{"v6", []ec2types.RouteTable{rt("r1", to("2001:db8::10/128", "eni-b", "active"))}, []netip.Prefix{v6}, false, []string{"r1 2001:db8::10/128 replace was eni-b"}, ""},
		{"broader route is not ours", []ec2types.RouteTable{rt("r1", to("192.168.100.0/24", "eni-a", "active"))}, []netip.Prefix{vip}, true, []string{"r1 192.168.100.10/32 create was (absent)"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fixes, err := ec2Plan(tc.tables, tc.dests, "eni-a", tc.create)
			if (err == nil && tc.wantErr != "") || (err != nil && err.Error() != tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			var got []string
			for _, f := range fixes {
				op := "replace"
				if f.create {
					op = "create"
				}
				got = append(got, f.table+" "+f.dest.String()+" "+op+" was "+f.was)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("fixes = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHostPrefixes(t *testing.T) {
	in := []netip.Prefix{
		netip.MustParsePrefix("192.168.100.10/24"),
		netip.MustParsePrefix("192.168.100.10/32"),
		netip.MustParsePrefix("::ffff:10.1.1.1/120"),
		netip.MustParsePrefix("2001:db8::1/64"),
		{},
	}
	got := prefixList(hostPrefixes(in))
	if want := "192.168.100.10/32, 10.1.1.1/32, 2001:db8::1/128"; got != want {
		t.Fatalf("hostPrefixes = %s, want %s", got, want)
	}
}

func TestEC2RouteNoVIPs(t *testing.T) {
	f := newEC2Fixture(t)
	a := newEC2RouteAction(t, f, EC2RouteConfig{VPCID: "vpc-1", ENIID: "eni-a"}, nil)
	ev := ec2Event("a", 1, alwaysValid)
	ev.VIPs = nil
	if err := a.Promote(context.Background(), ev); err == nil || err.Error() != "ec2-route: no VIPs to route" {
		t.Fatalf("err = %v", err)
	}
}
