package aws

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

func newEIPFixture(t *testing.T) *cloudtest.EC2 {
	t.Helper()
	f := cloudtest.NewEC2()
	t.Cleanup(f.Close)
	f.AddENI(cloudtest.EC2ENI{ID: "eni-a", VPCID: "vpc-1", InstanceID: "i-a", PrivateIPs: []string{"10.0.1.10", "10.0.1.11"}})
	f.AddENI(cloudtest.EC2ENI{ID: "eni-b", VPCID: "vpc-1", InstanceID: "i-b", PrivateIPs: []string{"10.0.2.10"}})
	f.AddAddress(cloudtest.EC2Address{AllocationID: "eipalloc-1", PublicIP: "203.0.113.7"})
	return f
}

func newEIPAction(t *testing.T, f *cloudtest.EC2, eni, ip string, m *cloud.Metrics) *EIP {
	t.Helper()
	cfg := EIPConfig{AllocationID: "eipalloc-1", ENIID: eni, Retry: awsTestRetry, CheckInterval: 5 * time.Millisecond, CheckTries: 3}
	if ip != "" {
		cfg.PrivateIP = netip.MustParseAddr(ip)
	}
	return NewEIP(cfg, NewAWSEC2Client(awsTestConfig(f.URL())), awsTestLog(t), m)
}

func eipOn(t *testing.T, f *cloudtest.EC2) string {
	t.Helper()
	a, _ := f.Address("eipalloc-1")
	return a.NetworkInterfaceID + " " + a.PrivateIP
}

func TestEIPPromoteAssociatesAndVerifies(t *testing.T) {
	f := newEIPFixture(t)
	m, _ := awsMetrics()
	a := newEIPAction(t, f, "eni-a", "10.0.1.11", m)
	if err := a.Promote(context.Background(), awsValidEvent("a", 3)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := eipOn(t, f); got != "eni-a 10.0.1.11" {
		t.Fatalf("EIP on %q", got)
	}
	if st := a.Status(); st.State != "ok" || st.Detail != "eipalloc-1 -> eni-a (10.0.1.11)" {
		t.Fatalf("status = %+v", st)
	}
	if v := awsCounter(t, m, "verified", "eip"); v != 1 {
		t.Fatalf("verified = %v", v)
	}
	// Already right: reads only.
	if err := a.Promote(context.Background(), awsValidEvent("a", 4)); err != nil {
		t.Fatalf("second Promote: %v", err)
	}
	if n := f.Faults.Calls("AssociateAddress"); n != 1 {
		t.Fatalf("AssociateAddress calls = %d, want 1", n)
	}
}

func TestEIPReassociatesFromOtherNode(t *testing.T) {
	f := newEIPFixture(t)
	f.AddAddress(cloudtest.EC2Address{AllocationID: "eipalloc-1", PublicIP: "203.0.113.7", AssociationID: "eipassoc-old", NetworkInterfaceID: "eni-b", PrivateIP: "10.0.2.10", InstanceID: "i-b"})
	a := newEIPAction(t, f, "eni-a", "", nil)
	if err := a.Promote(context.Background(), awsValidEvent("a", 1)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := eipOn(t, f); got != "eni-a 10.0.1.10" {
		t.Fatalf("EIP on %q, want eni-a's primary address", got)
	}
}

func TestEIPMonitorRepairs(t *testing.T) {
	f := newEIPFixture(t)
	m, _ := awsMetrics()
	a := newEIPAction(t, f, "eni-a", "10.0.1.10", m)
	ev := awsValidEvent("a", 2)
	if err := a.Promote(context.Background(), ev); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if rep, err := a.Monitor(context.Background(), ev); rep || err != nil {
		t.Fatalf("Monitor on good state = %v, %v", rep, err)
	}
	f.AddAddress(cloudtest.EC2Address{AllocationID: "eipalloc-1", PublicIP: "203.0.113.7", AssociationID: "eipassoc-x", NetworkInterfaceID: "eni-b", PrivateIP: "10.0.2.10"})
	rep, err := a.Monitor(context.Background(), ev)
	if err != nil || !rep {
		t.Fatalf("Monitor after drift = %v, %v", rep, err)
	}
	if got := eipOn(t, f); got != "eni-a 10.0.1.10" {
		t.Fatalf("EIP on %q after repair", got)
	}
	if n := awsCounter(t, m, "repairs", "eip"); n != 1 {
		t.Fatalf("repairs = %v", n)
	}
}

func TestEIPErrors(t *testing.T) {
	t.Run("throttled then ok", func(t *testing.T) {
		f := newEIPFixture(t)
		f.Faults.FailNext("AssociateAddress", 2, cloudtest.AWSFault{Status: 503, Code: "RequestLimitExceeded", Message: "Request limit exceeded."})
		f.Faults.FailNext("DescribeAddresses", 1, cloudtest.AWSFault{Status: 500, Code: "InternalError", Message: "An internal error has occurred"})
		a := newEIPAction(t, f, "eni-a", "", nil)
		if err := a.Promote(context.Background(), awsValidEvent("a", 1)); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if got := eipOn(t, f); got != "eni-a 10.0.1.10" {
			t.Fatalf("EIP on %q", got)
		}
	})
	t.Run("unknown allocation", func(t *testing.T) {
		f := newEIPFixture(t)
		a := newEIPAction(t, f, "eni-a", "", nil)
		a.cfg.AllocationID = "eipalloc-nope"
		err := a.Promote(context.Background(), awsValidEvent("a", 1))
		if awsErrCode(err) != "InvalidAllocationID.NotFound" || !strings.HasPrefix(err.Error(), "eip eipalloc-nope: DescribeAddresses: ") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("private ip not on eni", func(t *testing.T) {
		f := newEIPFixture(t)
		a := newEIPAction(t, f, "eni-a", "10.0.9.9", nil)
		err := a.Promote(context.Background(), awsValidEvent("a", 1))
		if awsErrCode(err) != "InvalidParameterValue" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestEIPDeadlinePassedNoWrite(t *testing.T) {
	f := newEIPFixture(t)
	a := newEIPAction(t, f, "eni-a", "", nil)
	ev := awsValidEvent("a", 1)
	ev.Valid = func() bool { return false }
	if err := a.Promote(context.Background(), ev); !errors.Is(err, cloud.ErrNotLeader) {
		t.Fatalf("err = %v, want ErrNotLeader", err)
	}
	if n := f.Faults.Calls("AssociateAddress"); n != 0 {
		t.Fatalf("AssociateAddress calls = %d", n)
	}
	if st := a.Status(); st.State != "idle" {
		t.Fatalf("state = %q, want idle", st.State)
	}
}

func TestEIPTwoAgentsRacing(t *testing.T) {
	f := newEIPFixture(t)
	var lease awsLeader
	a := newEIPAction(t, f, "eni-a", "", nil)
	b := newEIPAction(t, f, "eni-b", "", nil)
	lease.set("a")
	evA, evB := lease.event("a", 1), lease.event("b", 2)
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
	if got := eipOn(t, f); got != "eni-b 10.0.2.10" {
		t.Fatalf("EIP on %q, want the current leader eni-b", got)
	}
	aWrites := 0
	for _, w := range f.Writes() {
		if strings.Contains(w, " eni-a ") {
			aWrites++
		}
	}
	if aWrites != 1 {
		t.Fatalf("a associated %d times, want 1: %q", aWrites, f.Writes())
	}
}
