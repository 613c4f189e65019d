package agent

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/peer"
)

// memBus is an in-process peer channel between harness agents: it calls
// the other node's PeerLink.Handle directly, and can cut a pair. The real
// UDP channel (authentication, freshness) is the peer package's; this
// tests what the agent does with the messages.
type memBus struct {
	promise time.Duration
	fs      bool // nodes run --failsafe

	mu     sync.Mutex
	links  map[string]*PeerLink
	books  map[string]*election.PromiseBook
	cut    map[[2]string]bool
	status map[[2]string]peer.Message // [from,to] -> last Status
	seen   map[[2]string]time.Time
	sent   []peer.Message // every message sent, for assertions
}

func newMemBus(promise time.Duration, failsafe bool) *memBus {
	return &memBus{promise: promise, fs: failsafe, links: map[string]*PeerLink{}, books: map[string]*election.PromiseBook{},
		cut: map[[2]string]bool{}, status: map[[2]string]peer.Message{}, seen: map[[2]string]time.Time{}}
}

var busIDs = []string{"a", "b", "c"}

// prepare builds node cfg.NodeID's link (peers: a, b, c) and, with
// failsafe, its promise book and the engine options, as cmdline does.
func (b *memBus) prepare(t *testing.T, cfg Config, backend election.Backend, opts *election.Options) *PeerLink {
	t.Helper()
	link := NewPeerLink(cfg.NodeID, busIDs, b.promise, nil)
	if b.fs {
		book, err := election.OpenPromiseBook(election.PromiseFilePath(cfg.StateDir, "lbhc"), nil, nil, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		election.ExtendRecordTTL(backend, b.promise)
		opts.Failsafe, opts.Promises = link, book
		b.mu.Lock()
		b.books[cfg.NodeID] = book
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.links[cfg.NodeID] = link
	b.mu.Unlock()
	return link
}

func (b *memBus) node(id string) PeerNode { return busNode{b, id} }

func (b *memBus) setCut(x, y string, on bool) {
	b.mu.Lock()
	b.cut[[2]string{x, y}], b.cut[[2]string{y, x}] = on, on
	b.mu.Unlock()
}

// deliver hands m from -> to, or reports false when the pair is cut.
func (b *memBus) deliver(from, to string, m peer.Message) (*PeerLink, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.links[to]
	if l == nil || b.cut[[2]string{from, to}] {
		return nil, false
	}
	b.seen[[2]string{from, to}] = time.Now()
	if m.Kind == peer.Status {
		b.status[[2]string{from, to}] = m
	} else {
		b.sent = append(b.sent, m)
	}
	return l, true
}

func (b *memBus) messages(k peer.Kind) (out []peer.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.sent {
		if m.Kind == k {
			out = append(out, m)
		}
	}
	return out
}

type busNode struct {
	b    *memBus
	self string
}

func (n busNode) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (n busNode) Heartbeat() time.Duration      { return 50 * time.Millisecond }

func (n busNode) Send(to string, m peer.Message) error {
	if l, ok := n.b.deliver(n.self, to, m); ok {
		l.Handle(n.self, m)
	}
	return nil
}

func (n busNode) Request(ctx context.Context, to string, m peer.Message) (peer.Message, error) {
	l, ok := n.b.deliver(n.self, to, m)
	if !ok {
		<-ctx.Done()
		return peer.Message{}, ctx.Err()
	}
	rep := l.Handle(n.self, m)
	if rep == nil {
		<-ctx.Done()
		return peer.Message{}, ctx.Err()
	}
	if _, ok := n.b.deliver(to, n.self, *rep); !ok {
		<-ctx.Done()
		return peer.Message{}, ctx.Err()
	}
	return *rep, nil
}

func (n busNode) Peers() []peer.PeerStatus {
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	var out []peer.PeerStatus
	for _, id := range busIDs {
		if id == n.self {
			continue
		}
		k := [2]string{id, n.self}
		at, seen := n.b.seen[k]
		out = append(out, peer.PeerStatus{ID: id, Addr: id + ":26002", Seen: seen, Up: seen && time.Since(at) < 150*time.Millisecond,
			LastSeen: time.Since(at), LastStatus: n.b.status[k]})
	}
	return out
}

// fakePeerEngine is the engine as the grant rules see it.
type fakePeerEngine struct {
	st     election.Status
	book   *election.PromiseBook
	kicked int
}

func (e *fakePeerEngine) Status() election.Status                 { return e.st }
func (e *fakePeerEngine) Promises() *election.PromiseBook         { return e.book }
func (e *fakePeerEngine) Kick()                                   { e.kicked++ }
func (e *fakePeerEngine) FailsafeStatus() election.FailsafeStatus { return election.FailsafeStatus{} }
func (e *fakePeerEngine) Candidates() election.Candidates         { return election.Candidates{} }

func TestPeerLinkGrantRules(t *testing.T) {
	dir := t.TempDir()
	book, err := election.OpenPromiseBook(filepath.Join(dir, "lbhc.promise"), nil, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	eng := &fakePeerEngine{st: election.Status{Term: 7, Leader: "a"}, book: book}
	l := NewPeerLink("b", []string{"a", "b", "c"}, time.Second, nil)
	l.Bind(newMemBus(time.Second, true).node("b"), eng)
	req := func(term uint64, until time.Duration) *peer.Message {
		return l.Handle("a", peer.Message{Kind: peer.PromiseRequest, Term: term, Until: until, Role: RoleLeader})
	}

	if r := req(7, 3*time.Second); r == nil || r.Kind != peer.PromiseGrant || r.Term != 7 || r.Until != 3*time.Second {
		t.Fatalf("follower asked for term 7: %+v, want a 3s grant", r)
	}
	if g := book.Live(); len(g) != 1 || g[0].Leader != "a" || g[0].Term != 7 {
		t.Fatalf("promise not kept: %+v", g)
	}
	// Saved before the reply: a restarted node reads it back.
	again, err := election.OpenPromiseBook(filepath.Join(dir, "lbhc.promise"), nil, nil, time.Second)
	if err != nil || !again.Blocked() {
		t.Fatalf("promise not on disk after the grant (err %v)", err)
	}
	if r := req(6, time.Second); r == nil || r.Kind != peer.PromiseRefuse {
		t.Fatalf("request for an older term than seen: %+v, want a refusal", r)
	}
	eng.st.Leader = "c"
	if r := l.Handle("a", peer.Message{Kind: peer.PromiseRequest, Term: 7, Until: time.Second}); r == nil || r.Kind != peer.PromiseRefuse {
		t.Fatalf("a asking for term 7, which this node saw held by c: %+v, want a refusal", r)
	}
	eng.st.Leader = "a"
	if r := req(7, 0); r == nil || r.Kind != peer.PromiseRefuse {
		t.Fatalf("request for nothing: %+v, want a refusal", r)
	}
	if r := req(7, time.Hour); r == nil || r.Until != election.MaxFailsafePromise {
		t.Fatalf("request for an hour: %+v, want capped at %s", r, election.MaxFailsafePromise)
	}
	eng.st.Leading = true
	if r := req(8, time.Second); r == nil || r.Kind != peer.PromiseRefuse {
		t.Fatalf("a node holding a valid lease granted: %+v", r)
	}
	eng.st.Leading = false

	// A handover from a to c voids our promise to a, and does not kick us.
	l.Handle("a", peer.Message{Kind: peer.Handover, Term: 7, Target: "c"})
	if book.Blocked() || eng.kicked != 0 {
		t.Fatalf("after a's handover to c: blocked %v kicked %d", book.Blocked(), eng.kicked)
	}
	l.Handle("a", peer.Message{Kind: peer.Handover, Term: 7, Target: "b"})
	if eng.kicked != 1 {
		t.Fatal("a handover naming this node did not kick the engine")
	}

	// Without failsafe (no book) this node promises nothing.
	eng.book = nil
	if r := req(9, time.Second); r == nil || r.Kind != peer.PromiseRefuse {
		t.Fatalf("node without --failsafe granted: %+v", r)
	}
	// A promise that cannot be saved is refused.
	bad, _ := election.OpenPromiseBook(filepath.Join(dir, "missing", "x.promise"), nil, nil, 0)
	eng.book = bad
	if r := req(9, time.Second); r == nil || r.Kind != peer.PromiseRefuse || bad.Blocked() {
		t.Fatalf("unsaved promise granted: %+v", r)
	}
}

var errBackendDown = errors.New("dial tcp 10.0.0.1:443: i/o timeout")

func backendDown(store *election.MemoryStore, down bool) {
	if !down {
		store.SetFault(nil)
		return
	}
	store.SetFault(func(context.Context, string) error { return errBackendDown })
}

// Three agents with failsafe: the backend goes away for 10 renew
// deadlines; the leader keeps leading (probe answering throughout, no
// demotion), nobody else leads, /status and the metric show it, and it
// leaves failsafe without a flap when the backend returns.
func TestFailsafeAgentsRideOutBackendOutage(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	bus := newMemBus(time.Second, true)
	hs := map[string]*harness{}
	for _, id := range busIDs {
		hs[id] = newHarnessPeers(t, store, Config{NodeID: id}, &fakeVIPs{r: &recorder{}}, nil, nil, bus)
	}
	lead := waitOneLeader(t, hs)
	lead.r.reset()
	backendDown(store, true)
	end := time.Now().Add(10 * timing.RenewDeadline)
	for time.Now().Before(end) {
		if !lead.probe.answering() {
			t.Fatalf("leader's probe stopped answering %s into the outage", time.Until(end))
		}
		for id, h := range hs {
			if h != lead && h.probe.answering() {
				t.Fatalf("%s answers the probe too", id)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := lead.a.Snapshot()
	if s.Failsafe == nil || !s.Failsafe.Active || s.Failsafe.ValidForMS <= 0 || len(s.Peers) != 2 {
		t.Fatalf("status during failsafe: failsafe %+v peers %+v", s.Failsafe, s.Peers)
	}
	for _, p := range s.Peers {
		if !p.Up || p.Role != RoleFollower || p.PromiseUntilMS <= 0 {
			t.Fatalf("peer in status: %+v", p)
		}
	}
	if v := metricValue(t, lead, "lbhc_failsafe_active"); v != 1 {
		t.Fatalf("lbhc_failsafe_active = %v during failsafe", v)
	}
	backendDown(store, false)
	time.Sleep(3 * timing.RenewDeadline)
	if ops := lead.r.list(); strings.Contains(strings.Join(ops, ","), "probe.follow") {
		t.Fatalf("probe flapped: %v", ops)
	}
	if s := lead.a.Snapshot(); s.Role != RoleLeader || s.Failsafe.Active {
		t.Fatalf("after the outage: role %s failsafe %+v", s.Role, s.Failsafe)
	}
	if v := metricValue(t, lead, "lbhc_failsafe_active"); v != 0 {
		t.Fatalf("lbhc_failsafe_active = %v after failsafe", v)
	}
}

// Cut off from one peer during the outage, the leader demotes by its
// renew deadline, and that peer does not lead before its own promise (if
// any) ran out: never two leaders.
func TestFailsafeLeaderCutFromOnePeerDemotes(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	bus := newMemBus(time.Second, true)
	hs := map[string]*harness{}
	for _, id := range busIDs {
		hs[id] = newHarnessPeers(t, store, Config{NodeID: id}, &fakeVIPs{r: &recorder{}}, nil, nil, bus)
	}
	lead := waitOneLeader(t, hs)
	other := "a"
	if lead.a.cfg.NodeID == "a" {
		other = "b"
	}
	bus.setCut(lead.a.cfg.NodeID, other, true)
	backendDown(store, true)
	cut := time.Now()
	for lead.probe.answering() {
		if time.Since(cut) > timing.RenewDeadline+100*time.Millisecond {
			t.Fatalf("leader cut from %s still answers %s into the outage", other, time.Since(cut))
		}
		time.Sleep(5 * time.Millisecond)
	}
	backendDown(store, false)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		n := 0
		for _, h := range hs {
			if h.probe.answering() {
				n++
			}
		}
		if n > 1 {
			t.Fatal("two nodes answer the probe")
		}
	}
	waitOneLeader(t, hs)
}

// A switchover hands over to a peer: the successor acquires at once,
// although its priority would make it wait.
func TestSwitchoverHandsOverToPeer(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	bus := newMemBus(time.Second, false)
	a := newHarnessPeers(t, store, Config{NodeID: "a"}, &fakeVIPs{r: &recorder{}}, nil, nil, bus)
	a.waitRole(RoleLeader, 2*time.Second)
	// b waits 2 x 2 s after seeing the lease free (priority 3).
	b := newHarnessPeers(t, store, Config{NodeID: "b", Priority: 3, PriorityStep: 2 * time.Second}, &fakeVIPs{r: &recorder{}}, nil, nil, bus)
	b.waitRole(RoleFollower, time.Second)
	time.Sleep(200 * time.Millisecond) // heartbeats: a sees b up and following
	start := time.Now()
	code, res := postCommand(t, a, "switchover")
	if code != 200 && code != 202 {
		t.Fatalf("switchover: %d %+v", code, res)
	}
	b.waitRole(RoleLeader, time.Second)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("b led %s after the switchover, want at once (its priority delay is 4s)", took)
	}
	hov := bus.messages(peer.Handover)
	if len(hov) == 0 || hov[0].Target != "b" {
		t.Fatalf("handover messages %+v, want one naming b", hov)
	}
}

// A graceful stop releases the lease and hands over like a switchover: the
// peer acquires at once instead of after its priority delay.
func TestShutdownHandsOverToPeer(t *testing.T) {
	store := election.NewReleasedMemoryStore()
	bus := newMemBus(time.Second, false)
	a := newHarnessPeers(t, store, Config{NodeID: "a"}, &fakeVIPs{r: &recorder{}}, nil, nil, bus)
	a.waitRole(RoleLeader, 2*time.Second)
	b := newHarnessPeers(t, store, Config{NodeID: "b", Priority: 3, PriorityStep: 2 * time.Second}, &fakeVIPs{r: &recorder{}}, nil, nil, bus)
	b.waitRole(RoleFollower, time.Second)
	time.Sleep(200 * time.Millisecond) // heartbeats: a sees b up and following
	start := time.Now()
	a.stop()
	b.waitRole(RoleLeader, time.Second)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("b led %s after a stopped, want at once (its priority delay is 4s)", took)
	}
	hov := bus.messages(peer.Handover)
	if len(hov) == 0 || hov[0].Target != "b" {
		t.Fatalf("handover messages %+v, want one naming b", hov)
	}
}

func waitOneLeader(t *testing.T, hs map[string]*harness) *harness {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		var lead []*harness
		for _, h := range hs {
			if h.a.currentRole() == RoleLeader && h.probe.answering() {
				lead = append(lead, h)
			}
		}
		if len(lead) == 1 {
			return lead[0]
		}
	}
	t.Fatal("no single leader")
	return nil
}

// metricValue reads an unlabelled gauge or counter from h's registry.
func metricValue(t *testing.T, h *harness, name string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
