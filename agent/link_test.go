package agent

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbhc/lbhc/election"
)

// fakeLink is a link the test turns up and down.
type fakeLink struct {
	states      chan bool
	reannounced atomic.Int32
}

func (f *fakeLink) WatchLink(ctx context.Context, out chan<- bool) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case up := <-f.states:
			select {
			case out <- up:
			case <-ctx.Done():
				return nil
			}
		}
	}
}
func (f *fakeLink) Reannounce(context.Context) error { f.reannounced.Add(1); return nil }

func newLinkNode(t *testing.T, store *election.MemoryStore, id string, l LinkWatcher, grace time.Duration) *harness {
	t.Helper()
	r := &recorder{}
	cfg := Config{NodeID: id, Timing: timing, Election: "memory", AdminAddress: "127.0.0.1:0", StateDir: t.TempDir(),
		MonitorInterval: time.Hour, ReconcileInterval: time.Hour, VIPLinkGrace: grace, VIPInterface: "eth1"}
	cfg.Timing.NodeID = id
	reg := prometheus.NewRegistry()
	eng, err := election.NewEngine(cfg.Timing, election.NewCASBackend(store, id, timing.LeaseTTL, nil), election.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProbe{r: r}
	parts := Parts{Engine: eng, Probe: p, VIPs: &fakeVIPs{r: r}}
	if l != nil {
		parts.Link = l
	}
	a, err := New(cfg, parts, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
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

func TestLinkDownPastGraceHandsOver(t *testing.T) {
	const grace = 300 * time.Millisecond
	store := election.NewMemoryStore()
	link := &fakeLink{states: make(chan bool)}
	a := newLinkNode(t, store, "a", link, grace)
	a.waitRole(RoleLeader, 2*time.Second)
	b := newLinkNode(t, store, "b", nil, 0)
	b.waitRole(RoleFollower, time.Second)
	link.states <- true

	// A flap shorter than the grace: still leading, VIPs re-announced.
	link.states <- false
	time.Sleep(grace / 3)
	link.states <- true
	eventually(t, time.Second, "reannounce after the flap", func() bool { return link.reannounced.Load() == 1 })
	time.Sleep(grace)
	if a.a.currentRole() != RoleLeader {
		t.Fatalf("a %s after a short flap", a.a.currentRole())
	}

	down := time.Now()
	link.states <- false
	eventually(t, time.Second, "link state down in /status", func() bool { return a.a.Snapshot().VIPLink == "down" })
	if testutil.ToFloat64(a.a.linkUp) != 0 {
		t.Fatal("lbhc_vip_link_up is not 0 while down")
	}
	b.waitRole(RoleLeader, 2*time.Second)
	if d := time.Since(down); d < grace {
		t.Fatalf("handed over %s after the link went down, before the %s grace", d, grace)
	}
	if a.a.currentRole() != RoleStandby || a.a.Snapshot().Campaigning {
		t.Fatalf("a is %s (campaigning %v) with its link down", a.a.currentRole(), a.a.Snapshot().Campaigning)
	}
	// Link back: a campaigns again but does not take leadership back by
	// itself (b holds the lease).
	link.states <- true
	a.waitRole(RoleFollower, time.Second)
	time.Sleep(3 * timing.LeaseTTL)
	if b.a.currentRole() != RoleLeader || a.a.currentRole() != RoleFollower || !a.a.Snapshot().Campaigning {
		t.Fatalf("after link up: a %s, b %s", a.a.currentRole(), b.a.currentRole())
	}
	if link.reannounced.Load() != 1 {
		t.Fatalf("reannounced %d times, want only after the flap while leading", link.reannounced.Load())
	}
}
