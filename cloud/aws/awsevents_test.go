package aws

import (
	"context"
	"testing"
	"time"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

func TestParseAWSNotices(t *testing.T) {
	n, err := ParseAWSSpotAction([]byte(`{"action": "terminate", "time": "2017-09-18T08:22:00Z"}`))
	if err != nil || n.Type != "terminate" || !n.NotBefore.Equal(time.Date(2017, 9, 18, 8, 22, 0, 0, time.UTC)) || n.Ackable {
		t.Fatalf("spot %+v %v", n, err)
	}
	for _, bad := range []string{``, `{}`, `not json`, `{"time": "2017-09-18T08:22:00Z"}`} {
		if _, err := ParseAWSSpotAction([]byte(bad)); err == nil {
			t.Errorf("spot %q parsed", bad)
		}
	}
	r, err := ParseAWSRebalance([]byte(`{"noticeTime": "2020-11-05T08:22:00Z"}`))
	if err != nil || r.Type != "rebalance" || r.ID != "2020-11-05T08:22:00Z" {
		t.Fatalf("rebalance %+v %v", r, err)
	}
	if _, err := ParseAWSRebalance([]byte(`{}`)); err == nil {
		t.Error("empty rebalance parsed")
	}
	ms, err := ParseAWSMaintenance([]byte(`[
	  {"NotBefore": "21 Jan 2019 09:00:43 GMT", "Code": "system-reboot", "Description": "scheduled reboot",
	   "EventId": "instance-event-0d59937288b749b32", "NotAfter": "21 Jan 2019 09:17:23 GMT", "State": "active"},
	  {"NotBefore": "21 Jan 2019 09:00:43 GMT", "Code": "instance-stop", "EventId": "instance-event-old", "State": "completed"},
	  {"Code": "instance-retirement", "EventId": "instance-event-2", "State": "canceled"}]`))
	if err != nil || len(ms) != 1 || ms[0].ID != "instance-event-0d59937288b749b32" || ms[0].Type != "system-reboot" ||
		!ms[0].NotBefore.Equal(time.Date(2019, 1, 21, 9, 0, 43, 0, time.UTC)) {
		t.Fatalf("maintenance %+v %v", ms, err)
	}
	if ms, err := ParseAWSMaintenance([]byte(`[]`)); err != nil || len(ms) != 0 {
		t.Fatalf("empty list: %v %v", ms, err)
	}
	if _, err := ParseAWSMaintenance([]byte(`{"x":1}`)); err == nil {
		t.Error("object parsed as maintenance list")
	}
}

func TestAWSEventsWatcherAgainstFake(t *testing.T) {
	f, client := newAWSIMDSFixture(t)
	for _, tc := range []struct {
		kinds []string
		set   func()
		clear func()
		typ   string
	}{
		{[]string{AWSSpot}, func() { f.SetSpotInstanceAction("stop", time.Now().Add(2*time.Minute)) },
			func() { f.SetSpotInstanceAction("", time.Time{}) }, "stop"},
		{[]string{AWSRebalance}, func() { f.SetRebalanceRecommendation(time.Now()) },
			func() { f.SetRebalanceRecommendation(time.Time{}) }, "rebalance"},
		{[]string{AWSMaintenance}, func() {
			f.SetMaintenanceEvents(cloudtest.AWSMaintenanceEvent{Code: "system-reboot", EventID: "instance-event-1",
				NotBefore: cloudtest.AWSMaintenanceTime(time.Now().Add(time.Hour)), State: "active"})
		}, func() { f.SetMaintenanceEvents() }, "system-reboot"},
	} {
		w := &AWSEventsWatcher{Client: client, Kinds: tc.kinds, Interval: 20 * time.Millisecond}
		ch := make(chan cloud.PlatformNotices, 4)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.Watch(ctx, ch) }()
		if n := recvNotices(t, ch); len(n.Notices) != 0 {
			t.Fatalf("%v: notices %+v before any was set", tc.kinds, n)
		}
		// Tokens expire mid-watch: the client fetches a new one.
		f.ExpireTokens()
		tc.set()
		n := recvNotices(t, ch)
		if len(n.Notices) != 1 || n.Notices[0].Type != tc.typ {
			t.Fatalf("%v: notices %+v", tc.kinds, n)
		}
		tc.clear()
		if n := recvNotices(t, ch); len(n.Notices) != 0 {
			t.Fatalf("%v: notices %+v after clearing", tc.kinds, n)
		}
		cancel()
		<-done
	}
	// A kind not selected is not watched.
	f.SetSpotInstanceAction("terminate", time.Now())
	w := &AWSEventsWatcher{Client: client, Kinds: []string{AWSMaintenance}}
	if n, err := w.poll(context.Background()); err != nil || len(n.Notices) != 0 {
		t.Fatalf("maintenance-only watcher saw %+v %v", n, err)
	}
}

// recvNotices returns what the watcher sends next, failing after 2 s.
func recvNotices(t *testing.T, ch chan cloud.PlatformNotices) cloud.PlatformNotices {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(2 * time.Second):
		t.Fatal("no notices sent")
	}
	return cloud.PlatformNotices{}
}
