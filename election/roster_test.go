package election

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A leader knows which other nodes campaign, judged by their announcements
// changing on its own clock; a node that stops campaigning (standby) drops
// out within the window; a backend without a roster says so.
func TestLeaderSeesCampaigningNodes(t *testing.T) {
	clk := newFakeClock()
	store := NewReleasedMemoryStore()
	a := startNode(t, "a", NewCASBackend(store, "a", testTiming.LeaseTTL, clk), clk)
	clk.Advance(time.Second, 100*time.Millisecond)
	if leaders([]*testNode{a}) != 1 {
		t.Fatal("a does not lead")
	}
	if c := a.eng.Candidates(); !c.Supported || c.Known || c.KnownIn <= 0 {
		t.Fatalf("just elected: %+v; want supported, not yet known", c)
	}
	b := startNode(t, "b", NewCASBackend(store, "b", testTiming.LeaseTTL, clk), clk)
	b.eng.SetAcquireDelay(3 * time.Second)
	c := startNode(t, "c", NewCASBackend(store, "c", testTiming.LeaseTTL, clk), clk)
	c.eng.SetEligible(false) // standby: never announces
	clk.Advance(5*testTiming.RetryPeriod, 100*time.Millisecond)
	got := a.eng.Candidates()
	if !got.Known || !slices.Equal(got.Nodes, []string{"b"}) || got.MaxDelay != 3*time.Second {
		t.Fatalf("candidates %+v; want known, [b], max delay 3s", got)
	}
	if f := b.eng.Candidates(); f.Known {
		t.Fatalf("a follower claims to know candidates: %+v", f)
	}
	b.eng.SetEligible(false)
	clk.Advance(2*got.Window, 100*time.Millisecond)
	if got := a.eng.Candidates(); !got.Known || len(got.Nodes) != 0 {
		t.Fatalf("after b went to standby: %+v; want known, none", got)
	}
	if leaders([]*testNode{a, b, c}) != 1 {
		t.Fatal("announcements disturbed the lease")
	}

	// A store without a roster (DynamoDB, Azure record) and the none
	// backend: the leader cannot know.
	for name, be := range map[string]Backend{
		"cas without roster": NewCASBackend(struct{ Store }{NewMemoryStore()}, "x", testTiming.LeaseTTL, clk),
		"none":               NewNoneBackend("x"),
	} {
		if _, ok := be.(Roster); ok {
			t.Errorf("%s: is a Roster", name)
		}
	}
}

func TestFileStoreRoster(t *testing.T) {
	s, err := NewFileStore(filepath.Join(t.TempDir(), "group.lease"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if m, err := s.Members(ctx); err != nil || len(m) != 0 {
		t.Fatalf("empty roster: %v %v", m, err)
	}
	for _, a := range []Announcement{
		{Node: "a", Seq: 1},
		{Node: "odd/../id with space", Seq: 7, Delay: 2500 * time.Millisecond},
		{Node: "a", Seq: 2, Delay: time.Second},
	} {
		if err := s.Announce(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(m, func(x, y Announcement) int { return len(x.Node) - len(y.Node) })
	want := []Announcement{{Node: "a", Seq: 2, Delay: time.Second}, {Node: "odd/../id with space", Seq: 7, Delay: 2500 * time.Millisecond}}
	if !slices.Equal(m, want) {
		t.Fatalf("members %+v, want %+v", m, want)
	}
	// The lease record is untouched: no record was written.
	if _, _, err := s.Get(ctx); err == nil {
		t.Fatal("announcements wrote a lease record")
	}
}
