package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/aws"
	"github.com/lbhc/lbhc/cloud/azure"
	"github.com/lbhc/lbhc/cloud/cloudtest"
	"github.com/lbhc/lbhc/election"
)

func TestDecidePlatform(t *testing.T) {
	freeze := cloud.PlatformNotice{Source: "azure-scheduled-events", ID: "e1", Type: "Freeze"}
	reboot := cloud.PlatformNotice{Source: "azure-scheduled-events", ID: "e2", Type: "Reboot"}
	set := func(ns ...cloud.PlatformNotice) cloud.PlatformNotices { return cloud.PlatformNotices{Notices: ns} }
	acted := map[string]bool{noticeKey(freeze): true}
	for _, tc := range []struct {
		name   string
		role   string
		n      cloud.PlatformNotices
		acted  map[string]bool
		hold   bool
		action string
		fresh  []string
	}{
		{"nothing, nothing held", RoleLeader, set(), nil, false, platNone, nil},
		{"leader, new event", RoleLeader, set(freeze), nil, false, platSwitchover, []string{"e1"}},
		{"follower, new event", RoleFollower, set(freeze), nil, false, platStandby, []string{"e1"}},
		{"operator standby, new event", RoleStandby, set(freeze), nil, false, platStandby, []string{"e1"}},
		{"event already acted on", RoleLeader, set(freeze), acted, true, platNone, nil},
		{"second event while held", RoleStandby, set(freeze, reboot), acted, true, platStandby, []string{"e2"}},
		{"second event on a leader", RoleLeader, set(freeze, reboot), acted, true, platSwitchover, []string{"e2"}},
		{"events gone", RoleStandby, set(), acted, true, platResume, nil},
	} {
		action, fresh := decidePlatform(tc.role, tc.n, tc.acted, tc.hold)
		var ids []string
		for _, f := range fresh {
			ids = append(ids, f.ID)
		}
		if action != tc.action || !slices.Equal(ids, tc.fresh) {
			t.Errorf("%s: %q %v, want %q %v", tc.name, action, ids, tc.action, tc.fresh)
		}
	}
}

// newPlatformNode starts an agent with a platform watcher on store.
func newPlatformNode(t *testing.T, store *election.MemoryStore, id string, w PlatformWatcher) *harness {
	t.Helper()
	r := &recorder{}
	cfg := Config{NodeID: id, Timing: timing, Election: "memory", AdminAddress: "127.0.0.1:0", StateDir: t.TempDir(),
		MonitorInterval: time.Hour, ReconcileInterval: time.Hour}
	cfg.Timing.NodeID = id
	reg := prometheus.NewRegistry()
	eng, err := election.NewEngine(cfg.Timing, election.NewCASBackend(store, id, timing.LeaseTTL, nil), election.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProbe{r: r}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", id)
	}
	a, err := New(cfg, Parts{Engine: eng, Probe: p, VIPs: &fakeVIPs{r: r}, Platform: w}, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, a: a, r: r, probe: p, store: store, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(h.stop)
	<-a.Ready()
	return h
}

func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAzureEventMovesLeadershipThenAcknowledges(t *testing.T) {
	f := cloudtest.NewAzureIMDS(cloudtest.AzureInstanceData{Name: "vm-a", SubscriptionID: "s", ResourceGroup: "rg", PrivateIPs: []string{"10.0.0.4"}})
	defer f.Close()
	store := election.NewMemoryStore()
	watcher := func(vm string) *azure.AzureEventsWatcher {
		return &azure.AzureEventsWatcher{Endpoint: f.URL(), VMName: vm, Interval: 20 * time.Millisecond}
	}
	a := newPlatformNode(t, store, "a", watcher("")) // learns vm-a from instance metadata
	a.waitRole(RoleLeader, 2*time.Second)
	b := newPlatformNode(t, store, "b", watcher("vm-b"))
	b.waitRole(RoleFollower, time.Second)

	// An event for a VM outside the group changes nothing.
	f.AddEvent(cloudtest.NewAzureEvent("other", "Reboot", 15*time.Minute, "vm-z"))
	time.Sleep(300 * time.Millisecond)
	if a.a.currentRole() != RoleLeader || b.a.currentRole() != RoleFollower || len(f.Acks()) != 0 {
		t.Fatalf("event for another VM: a %s, b %s, acks %v", a.a.currentRole(), b.a.currentRole(), f.Acks())
	}

	// A Freeze for the leader: planned handover, then one acknowledgement
	// with its EventId once b leads.
	start := time.Now()
	f.AddEvent(cloudtest.NewAzureEvent("freeze-a", "Freeze", 15*time.Minute, "vm-a"))
	b.waitRole(RoleLeader, 2*time.Second)
	moved := time.Since(start)
	if a.a.currentRole() != RoleStandby {
		t.Fatalf("old leader is %s, want standby while its event is pending", a.a.currentRole())
	}
	// Planned, not a crash: well under the lease TTL the crash path waits.
	if moved >= timing.LeaseTTL {
		t.Fatalf("leadership moved after %s, not faster than a crash failover (%s)", moved, timing.LeaseTTL)
	}
	eventually(t, 2*time.Second, "acknowledgement", func() bool { return len(f.Acks()) > 0 })
	time.Sleep(200 * time.Millisecond)
	if got := f.Acks(); !slices.Equal(got, []string{"freeze-a"}) {
		t.Fatalf("acks %v, want exactly [freeze-a]", got)
	}
	if b.a.currentRole() != RoleLeader {
		t.Fatal("b does not lead after the acknowledgement")
	}
	if testutil.ToFloat64(a.a.pm.actions.WithLabelValues(platSwitchover)) != 1 || testutil.ToFloat64(a.a.pm.hold) != 1 {
		t.Fatal("metrics do not show the switchover and the hold")
	}
	st := a.a.Snapshot().Platform
	if st == nil || !st.Hold || st.LastNotice == nil || st.LastNotice.ID != "freeze-a" || st.LastAction != platSwitchover ||
		!slices.Equal(st.Acknowledged, []string{"freeze-a"}) {
		t.Fatalf("status platform %+v", st)
	}
	// The document keeps changing (the event is Started now): no second
	// action, no second acknowledgement, a does not campaign.
	time.Sleep(3 * timing.LeaseTTL)
	if len(f.Acks()) != 1 || a.a.currentRole() != RoleStandby || b.a.currentRole() != RoleLeader {
		t.Fatalf("after a while: acks %v, a %s, b %s", f.Acks(), a.a.currentRole(), b.a.currentRole())
	}

	// The event is over: a campaigns again (as a follower: b leads).
	f.RemoveEvent("freeze-a")
	a.waitRole(RoleFollower, time.Second)
	if !a.a.Snapshot().Campaigning {
		t.Fatal("a does not campaign after its event ended")
	}

	// A follower with an event stands by and acknowledges at once.
	f.AddEvent(cloudtest.NewAzureEvent("reboot-a", "Reboot", 15*time.Minute, "vm-a"))
	a.waitRole(RoleStandby, time.Second)
	eventually(t, time.Second, "second acknowledgement", func() bool { return len(f.Acks()) == 2 })
	if got := f.Acks(); got[1] != "reboot-a" || b.a.currentRole() != RoleLeader {
		t.Fatalf("acks %v, b %s", got, b.a.currentRole())
	}
	f.RemoveEvent("reboot-a")
	a.waitRole(RoleFollower, time.Second)
}

func TestAWSSpotNoticeMovesLeadership(t *testing.T) {
	newIMDS := func(id string) (*cloudtest.AWSIMDS, *aws.AWSEventsWatcher) {
		f := cloudtest.NewAWSIMDS(cloudtest.AWSInstanceData{InstanceID: id, MAC: "0a:00:00:00:00:01", PrivateIP: "10.0.0.5", Region: "eu-west-1"})
		t.Cleanup(f.Close)
		return f, aws.NewAWSEventsWatcher(f.URL(), []string{aws.AWSSpot, aws.AWSMaintenance}, 20*time.Millisecond, nil)
	}
	store := election.NewMemoryStore()
	fa, wa := newIMDS("i-a")
	fb, wb := newIMDS("i-b")
	a := newPlatformNode(t, store, "a", wa)
	a.waitRole(RoleLeader, 2*time.Second)
	b := newPlatformNode(t, store, "b", wb)
	b.waitRole(RoleFollower, time.Second)

	start := time.Now()
	fa.SetSpotInstanceAction("terminate", time.Now().Add(2*time.Minute))
	b.waitRole(RoleLeader, 2*time.Second)
	if d := time.Since(start); d >= timing.LeaseTTL {
		t.Fatalf("leadership moved after %s", d)
	}
	if a.a.currentRole() != RoleStandby {
		t.Fatalf("a is %s, want standby", a.a.currentRole())
	}
	fa.SetSpotInstanceAction("", time.Time{})
	a.waitRole(RoleFollower, time.Second)
	// Scheduled maintenance on the new leader hands back to a.
	fb.SetMaintenanceEvents(cloudtest.AWSMaintenanceEvent{Code: "system-reboot", EventID: "instance-event-1",
		NotBefore: cloudtest.AWSMaintenanceTime(time.Now().Add(time.Hour)), State: "active"})
	a.waitRole(RoleLeader, 2*time.Second)
	b.waitRole(RoleStandby, time.Second)
	if testutil.ToFloat64(a.a.pm.acks.WithLabelValues("ok"))+testutil.ToFloat64(b.a.pm.acks.WithLabelValues("ok")) != 0 {
		t.Fatal("AWS notices have no acknowledgement, but one was counted")
	}
}

// A lone leader with an event hands the lease back and, with nobody to
// take over, acknowledges once the bound (sit-out + lease TTL) has passed.
func TestAzureEventAloneAcknowledgesAfterBound(t *testing.T) {
	f := cloudtest.NewAzureIMDS(cloudtest.AzureInstanceData{Name: "vm-a", SubscriptionID: "s", ResourceGroup: "rg", PrivateIPs: []string{"10.0.0.4"}})
	defer f.Close()
	a := newPlatformNode(t, election.NewMemoryStore(), "a", &azure.AzureEventsWatcher{Endpoint: f.URL(), Interval: 20 * time.Millisecond})
	a.waitRole(RoleLeader, 2*time.Second)
	start := time.Now()
	f.AddEvent(cloudtest.NewAzureEvent("reboot-a", "Reboot", 15*time.Minute, "vm-a"))
	a.waitRole(RoleStandby, time.Second)
	eventually(t, 5*time.Second, "acknowledgement", func() bool { return len(f.Acks()) == 1 })
	bound := a.a.switchoverSitOut() + timing.LeaseTTL
	if d := f.AckTimes()[0].Sub(start); d < bound {
		t.Fatalf("acknowledged %s after the event, before the %s bound, with no successor", d, bound)
	}
	if a.a.currentRole() != RoleStandby {
		t.Fatalf("a is %s, want standby until the event is over", a.a.currentRole())
	}
}
