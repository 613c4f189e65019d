package agent

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/peer"
)

// PeerNode is the authenticated peer channel (peer.Node).
type PeerNode interface {
	Run(ctx context.Context) error
	Send(to string, m peer.Message) error
	Request(ctx context.Context, to string, m peer.Message) (peer.Message, error)
	Peers() []peer.PeerStatus
	Heartbeat() time.Duration
}

// peerEngine is what the peer link needs of the election engine.
type peerEngine interface {
	Status() election.Status
	Promises() *election.PromiseBook
	Kick()
	FailsafeStatus() election.FailsafeStatus
	Candidates() election.Candidates
}

// PeerLink joins the peer channel, the engine and the agent: it answers
// the peers (promises, handovers, heartbeats), asks them for promises when
// the engine is in failsafe (it is the engine's election.Failsafe), and
// sends the handover of a switchover. main builds it before the engine and
// the node (each needs it) and binds them with Bind.
type PeerLink struct {
	self    string
	promise time.Duration // P, asked of every peer
	log     *slog.Logger

	mu   sync.Mutex
	node PeerNode
	eng  peerEngine
	ids  []string             // configured peers, self excluded, sorted
	last map[string]time.Time // believed promise end per peer, last round
}

// NewPeerLink builds the link for node self with peers ids (self may be
// among them) asking for promises of promise.
func NewPeerLink(self string, ids []string, promise time.Duration, log *slog.Logger) *PeerLink {
	var own []string
	for _, id := range ids {
		if id != self {
			own = append(own, id)
		}
	}
	sort.Strings(own)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PeerLink{self: self, promise: promise, log: log, ids: own, last: map[string]time.Time{}}
}

// Bind attaches the channel and the engine.
func (p *PeerLink) Bind(node PeerNode, eng peerEngine) {
	p.mu.Lock()
	p.node, p.eng = node, eng
	p.mu.Unlock()
}

func (p *PeerLink) parts() (PeerNode, peerEngine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.node, p.eng
}

// Handle is the peer.Handler. It does not block beyond saving a promise
// (one small file write, synced) before granting it.
func (p *PeerLink) Handle(from string, m peer.Message) *peer.Message {
	_, eng := p.parts()
	if eng == nil {
		return nil
	}
	switch m.Kind {
	case peer.PromiseRequest:
		return p.grant(eng, from, m)
	case peer.Handover:
		// The sender has stepped down (it sends this after releasing):
		// nothing it believes rests on our promise any more.
		if book := eng.Promises(); book != nil {
			book.Void(from, m.Term)
		}
		if m.Target == p.self {
			p.log.Info("handover: the releasing leader names this node; acquiring now", "from", from, "term", m.Term)
			eng.Kick()
		}
	}
	return nil
}

// grant decides a PromiseRequest: granted when this node runs failsafe
// (it has a promise book), does not hold a valid lease itself, has not
// seen a term newer than the one asked for, nor that term held by another
// node. The promise is saved before
// the grant is sent.
func (p *PeerLink) grant(eng peerEngine, from string, m peer.Message) *peer.Message {
	st := eng.Status()
	refuse := &peer.Message{Kind: peer.PromiseRefuse, Term: st.Term}
	book := eng.Promises()
	switch {
	case book == nil, st.Leading, m.Term < st.Term, m.Until <= 0:
		return refuse
	case m.Term == st.Term && st.Leader != "" && st.Leader != from:
		// That term is someone else's grant as this node saw it.
		return refuse
	}
	d := min(m.Until, election.MaxFailsafePromise)
	if err := book.Give(from, m.Term, d); err != nil {
		p.log.Error("failsafe promise not saved; refusing it", "leader", from, "term", m.Term, "err", err)
		return refuse
	}
	return &peer.Message{Kind: peer.PromiseGrant, Term: m.Term, Until: d}
}

// Promise asks every peer for a promise for term (election.Failsafe). Each
// request is resent by the channel within ctx, which ends at the lease's
// deadline: the timeouts follow the renew deadline, not a fixed value.
func (p *PeerLink) Promise(ctx context.Context, term uint64) (time.Time, bool) {
	node, _ := p.parts()
	if node == nil || len(p.ids) == 0 {
		return time.Time{}, false
	}
	t0 := time.Now() // before any request is sent
	r := election.NewPromiseRound(term, t0, p.promise, p.ids)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range p.ids {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			rep, err := node.Request(ctx, id, peer.Message{Kind: peer.PromiseRequest, Term: term, Role: RoleLeader, Until: p.promise})
			got := time.Now()
			if err != nil || rep.Kind != peer.PromiseGrant {
				return
			}
			mu.Lock()
			r.Grant(id, rep.Term, rep.Until, got)
			mu.Unlock()
		}(id)
	}
	wg.Wait()
	until, ok := r.Validity()
	p.mu.Lock()
	p.last = map[string]time.Time{}
	for _, id := range p.ids {
		if e, has := r.End(id); has {
			p.last[id] = e
		}
	}
	p.mu.Unlock()
	if !ok {
		p.log.Warn("failsafe: peers without a valid promise", "term", term, "missing", r.Missing())
	}
	return until, ok
}

// heartbeats sends Status (role, term) to every peer each heartbeat
// interval until ctx ends.
func (p *PeerLink) heartbeats(ctx context.Context, role func() (string, uint64)) {
	node, _ := p.parts()
	if node == nil {
		return
	}
	tick := time.NewTicker(node.Heartbeat())
	defer tick.Stop()
	for {
		r, t := role()
		for _, id := range p.ids {
			_ = node.Send(id, peer.Message{Kind: peer.Status, Role: r, Term: t})
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// handover tells every peer that this node released term, naming the
// successor: a campaigning node from the roster if the backend keeps one,
// else the first peer that is up and says it follows. It returns the
// target ("" = none named; the peers still void their promises to us).
func (p *PeerLink) handover(term uint64) string {
	node, eng := p.parts()
	if node == nil {
		return ""
	}
	target := ""
	if eng != nil {
		if c := eng.Candidates(); c.Known {
			for _, n := range c.Nodes {
				if p.isPeer(n) {
					target = n
					break
				}
			}
		}
	}
	if target == "" {
		for _, s := range node.Peers() {
			if s.Up && s.LastStatus.Role == RoleFollower {
				target = s.ID
				break
			}
		}
	}
	for _, id := range p.ids {
		_ = node.Send(id, peer.Message{Kind: peer.Handover, Term: term, Role: RoleFollower, Target: target})
	}
	return target
}

func (p *PeerLink) isPeer(id string) bool {
	for _, x := range p.ids {
		if x == id {
			return true
		}
	}
	return false
}

// PeerInfo is one peer in /status.
type PeerInfo struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
	Up   bool   `json:"up"`
	// Role and Term are what its last heartbeat said.
	Role       string `json:"role,omitempty"`
	Term       uint64 `json:"term,omitempty"`
	LastSeenMS int64  `json:"last_seen_ms,omitempty"`
	// PromiseUntilMS: this leader believes the peer's promise for this
	// long still (ms; leaders in failsafe only).
	PromiseUntilMS int64 `json:"promise_until_ms,omitempty"`
}

// FailsafeInfo is the failsafe object of /status.
type FailsafeInfo struct {
	Enabled bool   `json:"enabled"`
	Active  bool   `json:"active"`
	Promise string `json:"promise"` // P asked of each peer
	Reason  string `json:"reason,omitempty"`
	// SinceMS and ValidForMS: how long failsafe has lasted and how long
	// the current promises still hold (leaders in failsafe).
	SinceMS    int64 `json:"since_ms,omitempty"`
	ValidForMS int64 `json:"valid_for_ms,omitempty"`
	// Given: the promises this node gave (it does not acquire meanwhile).
	Given []GivenPromise `json:"given,omitempty"`
}

// GivenPromise is a promise this node gave to a leader in failsafe.
type GivenPromise struct {
	Leader string `json:"leader"`
	Term   uint64 `json:"term"`
	LeftMS int64  `json:"left_ms"`
}

// status returns the peers and failsafe parts of /status.
func (p *PeerLink) status() ([]PeerInfo, *FailsafeInfo) {
	node, eng := p.parts()
	if node == nil || eng == nil {
		return nil, nil
	}
	fs := eng.FailsafeStatus()
	now := time.Now()
	p.mu.Lock()
	last := p.last
	p.mu.Unlock()
	var peers []PeerInfo
	for _, s := range node.Peers() {
		pi := PeerInfo{ID: s.ID, Addr: s.Addr, Up: s.Up, Role: s.LastStatus.Role, Term: s.LastStatus.Term}
		if s.Seen {
			pi.LastSeenMS = max(s.LastSeen.Milliseconds(), 1)
		}
		if e, ok := last[s.ID]; ok && fs.Active && e.After(now) {
			pi.PromiseUntilMS = e.Sub(now).Milliseconds()
		}
		peers = append(peers, pi)
	}
	info := &FailsafeInfo{Enabled: fs.Enabled, Active: fs.Active, Promise: p.promise.String(), Reason: fs.Reason}
	if fs.Active {
		info.SinceMS = now.Sub(fs.Since).Milliseconds()
		info.ValidForMS = max(fs.Until.Sub(now).Milliseconds(), 0)
	}
	for _, g := range eng.Promises().Live() {
		info.Given = append(info.Given, GivenPromise{Leader: g.Leader, Term: g.Term, LeftMS: g.Left.Milliseconds()})
	}
	return peers, info
}

// startPeers runs the peer channel and the heartbeats (with --peer). The
// returned channel reports the channel stopping with an error (a bind
// error comes at once).
func (a *Agent) startPeers(ctx context.Context, wg *sync.WaitGroup) <-chan error {
	errc := make(chan error, 1)
	if a.p.Peers == nil {
		return errc
	}
	node, _ := a.p.Peers.parts()
	if node == nil {
		return errc
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := node.Run(ctx); err != nil && ctx.Err() == nil {
			errc <- err
		}
	}()
	go func() {
		defer wg.Done()
		a.p.Peers.heartbeats(ctx, func() (string, uint64) { return a.currentRole(), a.termNow() })
	}()
	return errc
}

// noteReterm takes over the term of a grant the engine re-acquired
// without an event after a failsafe (a native lease that expired on the
// server during the outage): /status, lbhc_term and the heartbeats then
// carry the new term. Term worker only.
func (a *Agent) noteReterm(t *term) {
	cur := t.lease.CurrentTerm()
	a.mu.Lock()
	old := a.term
	moved := a.lease == t.lease && cur != old
	if moved {
		a.term = cur
	}
	a.mu.Unlock()
	if moved {
		a.m.term.Set(float64(cur))
		a.log.Info("term moved: the lease was re-acquired after a failsafe", "from", old, "term", cur)
	}
}
