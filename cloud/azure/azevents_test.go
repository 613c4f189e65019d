package azure

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

func TestAzureNoticesFor(t *testing.T) {
	doc, err := ParseAzureScheduledEvents([]byte(`{
	  "DocumentIncarnation": 7,
	  "Events": [
	    {"EventId": "A", "EventType": "Freeze", "ResourceType": "VirtualMachine", "Resources": ["vm-a", "vm-b"],
	     "EventStatus": "Scheduled", "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT", "Description": "", "EventSource": "Platform", "DurationInSeconds": 5},
	    {"EventId": "B", "EventType": "Reboot", "ResourceType": "VirtualMachine", "Resources": ["vm-c"],
	     "EventStatus": "Scheduled", "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT"},
	    {"EventId": "C", "EventType": "Preempt", "ResourceType": "VirtualMachine", "Resources": ["VM-A"],
	     "EventStatus": "Started", "NotBefore": ""},
	    {"EventId": "D", "EventType": "SomethingNew", "ResourceType": "VirtualMachine", "Resources": ["vm-a"]}
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	if doc.DocumentIncarnation != 7 || len(doc.Events) != 4 || doc.Events[0].DurationInSeconds != 5 {
		t.Fatalf("parsed %+v", doc)
	}
	for _, tc := range []struct {
		vm    string
		ids   []string
		types []string
	}{
		{"vm-a", []string{"A", "C"}, []string{"Freeze", "Preempt"}},
		{"vm-b", []string{"A"}, []string{"Freeze"}},
		{"vm-c", []string{"B"}, []string{"Reboot"}},
		{"vm-d", nil, nil},
	} {
		got := AzureNoticesFor(doc, tc.vm)
		var ids, types []string
		for _, n := range got.Notices {
			ids, types = append(ids, n.ID), append(types, n.Type)
			if !n.Ackable || n.Source != "azure-scheduled-events" {
				t.Errorf("%s: notice %+v", tc.vm, n)
			}
		}
		if !slices.Equal(ids, tc.ids) || !slices.Equal(types, tc.types) {
			t.Errorf("%s: ids %v types %v, want %v %v", tc.vm, ids, types, tc.ids, tc.types)
		}
	}
	a := AzureNoticesFor(doc, "vm-a").Notices
	if want := time.Date(2016, 9, 19, 18, 29, 47, 0, time.UTC); !a[0].NotBefore.Equal(want) {
		t.Errorf("NotBefore %v, want %v", a[0].NotBefore, want)
	}
	if !a[1].NotBefore.IsZero() {
		t.Errorf("started event NotBefore %v, want zero", a[1].NotBefore)
	}
	if _, err := ParseAzureScheduledEvents([]byte(`{"Events": 3}`)); err == nil {
		t.Error("malformed document parsed")
	}
}

func newAzureEventsFixture(t *testing.T) (*cloudtest.AzureIMDS, *AzureEventsWatcher, chan cloud.PlatformNotices) {
	t.Helper()
	f := cloudtest.NewAzureIMDS(cloudtest.AzureInstanceData{Name: "vm-a", Location: "westeurope", SubscriptionID: "sub",
		ResourceGroup: "rg", PrivateIPs: []string{"10.0.0.4"}})
	t.Cleanup(f.Close)
	w := &AzureEventsWatcher{Endpoint: f.URL(), Interval: 20 * time.Millisecond}
	ch := make(chan cloud.PlatformNotices, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Watch(ctx, ch) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, w, ch
}

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

func TestAzureEventsWatcherAgainstFake(t *testing.T) {
	f, w, ch := newAzureEventsFixture(t)
	if n := recvNotices(t, ch); len(n.Notices) != 0 {
		t.Fatalf("first document: %+v, want no notices", n)
	}
	// An event for another VM: the document changes, the set for vm-a does
	// not, so nothing is sent.
	f.AddEvent(cloudtest.NewAzureEvent("other", "Reboot", 15*time.Minute, "vm-b"))
	f.AddEvent(cloudtest.NewAzureEvent("mine", "Freeze", 15*time.Minute, "vm-a"))
	n := recvNotices(t, ch)
	if len(n.Notices) != 1 || n.Notices[0].ID != "mine" || n.Notices[0].Type != "Freeze" ||
		time.Until(n.Notices[0].NotBefore) < 14*time.Minute {
		t.Fatalf("notices %+v, want the Freeze for vm-a", n)
	}
	// The same document polled again sends nothing.
	select {
	case n := <-ch:
		t.Fatalf("sent again without a change: %+v", n)
	case <-time.After(150 * time.Millisecond):
	}
	if err := w.Acknowledge(context.Background(), "mine"); err != nil {
		t.Fatal(err)
	}
	if got := f.Acks(); !slices.Equal(got, []string{"mine"}) {
		t.Fatalf("acks %v", got)
	}
	if err := w.Acknowledge(context.Background(), "nope"); err == nil {
		t.Fatal("acknowledging an unknown EventId succeeded")
	}
	f.RemoveEvent("mine")
	if n := recvNotices(t, ch); len(n.Notices) != 0 {
		t.Fatalf("after removal: %+v", n)
	}
}

func TestAzureEventsWatcherSurvivesThrottling(t *testing.T) {
	f, _, ch := newAzureEventsFixture(t)
	recvNotices(t, ch)
	f.FailNext(3, 429)
	f.AddEvent(cloudtest.NewAzureEvent("x", "Redeploy", 10*time.Minute, "vm-a"))
	if n := recvNotices(t, ch); len(n.Notices) != 1 || n.Notices[0].Type != "Redeploy" {
		t.Fatalf("notices %+v", n)
	}
}
