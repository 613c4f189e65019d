package election

import (
	"context"
	"slices"
	"time"
)

// Announcement says that a node campaigns: it would take the lease once it
// sees it free, after Delay (its priority or failed-check delay). Seq
// changes with every announcement; a reader judges liveness only by seeing
// Seq change on its own monotonic clock, never by comparing timestamps
// written on another node.
type Announcement struct {
	Node  string
	Seq   uint64
	Delay time.Duration
}

// Roster is implemented by backends where campaigning followers can make
// themselves known to the leader, so a switchover can refuse before
// stepping down when no other node could take over. Announcements live
// apart from the lease record: writing them does not change the record's
// version, which followers watch to detect an expired grant.
type Roster interface {
	// Announce records a, replacing this node's previous announcement.
	Announce(ctx context.Context, a Announcement) error
	// Members returns the latest announcement of every node that ever
	// announced (the caller's own included).
	Members(ctx context.Context) ([]Announcement, error)
}

// casRosterBackend is the CAS backend over a Store that also keeps a
// roster (file, memory): NewCASBackend returns it so that only those
// backends are a Roster.
type casRosterBackend struct {
	*casBackend
	roster Roster
}

func (b casRosterBackend) Announce(ctx context.Context, a Announcement) error {
	return b.roster.Announce(ctx, a)
}

func (b casRosterBackend) Members(ctx context.Context) ([]Announcement, error) {
	return b.roster.Members(ctx)
}

// Candidates is what a leader knows about other nodes that could take over.
type Candidates struct {
	// Supported: the backend keeps a roster (file and memory stores).
	Supported bool
	// Known: this node leads and has watched the roster for a full window
	// (as follower or leader), so an empty Nodes means nobody campaigns.
	Known bool
	// KnownIn, when Supported and not Known, is how long until it is.
	KnownIn time.Duration
	// Window is how recent an announcement must be to count.
	Window time.Duration
	// Nodes are the other nodes seen announcing within Window, sorted.
	Nodes []string
	// MaxDelay is the longest acquire delay among Nodes.
	MaxDelay time.Duration
}

// rosterSeen is the leader's observation of one node's announcements.
type rosterSeen struct {
	seq       uint64
	delay     time.Duration
	changedAt time.Time // when a new seq was first seen; zero = not seen changing yet
}

// rosterWindow: followers announce once per retry period; three periods
// leave room for a slow round trip on either side.
func (e *Engine) rosterWindow() time.Duration { return 3 * e.cfg.RetryPeriod }

// announce tells the roster that this node campaigns. Errors only cost
// the leader's knowledge of this node, so they are logged at debug level.
func (e *Engine) announce(ctx context.Context) bool {
	r, ok := e.b.(Roster)
	if !ok {
		return true
	}
	e.announceSeq++
	a := Announcement{Node: e.cfg.NodeID, Seq: e.announceSeq, Delay: time.Duration(e.acquireDelay.Load())}
	_, err := e.call(ctx, e.cfg.RetryPeriod, nil, func(c context.Context) (State, error) {
		return State{}, r.Announce(c, a)
	})
	if abandoned(ctx, err) {
		return false
	}
	if err != nil {
		e.log.Debug("roster announcement failed", "err", err)
	}
	return true
}

// observeRoster reads the roster and notes whose sequence changed. Every
// node does, leader or follower, so a node that is elected already knows
// who campaigns. fence (nil for followers) aborts the read at the
// leadership deadline.
func (e *Engine) observeRoster(ctx context.Context, fence <-chan time.Time) {
	r, ok := e.b.(Roster)
	if !ok {
		return
	}
	var members []Announcement
	_, err := e.call(ctx, e.cfg.RetryPeriod, fence, func(c context.Context) (State, error) {
		var err error
		members, err = r.Members(c)
		return State{}, err
	})
	if abandoned(ctx, err) {
		return
	}
	if err != nil {
		e.log.Debug("roster read failed", "err", err)
		return
	}
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.roster == nil {
		e.rosterSince, e.roster = now, map[string]*rosterSeen{}
	}
	for _, m := range members {
		if m.Node == e.cfg.NodeID {
			continue
		}
		s, seen := e.roster[m.Node]
		switch {
		case !seen:
			e.roster[m.Node] = &rosterSeen{seq: m.Seq, delay: m.Delay}
		case s.seq != m.Seq:
			s.seq, s.delay, s.changedAt = m.Seq, m.Delay, now
		}
	}
}

// Candidates reports the other nodes this leader has seen campaigning
// recently. A follower's answer is never Known: only a leader can hand over.
func (e *Engine) Candidates() Candidates {
	_, supported := e.b.(Roster)
	c := Candidates{Supported: supported, Window: e.rosterWindow()}
	if !c.Supported {
		return c
	}
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lease == nil || e.roster == nil {
		c.KnownIn = c.Window + e.cfg.RetryPeriod
		return c
	}
	if watched := now.Sub(e.rosterSince); watched < c.Window {
		c.KnownIn = c.Window - watched
		return c
	}
	c.Known = true
	for node, s := range e.roster {
		if !s.changedAt.IsZero() && now.Sub(s.changedAt) <= c.Window {
			c.Nodes = append(c.Nodes, node)
			c.MaxDelay = max(c.MaxDelay, s.delay)
		}
	}
	slices.Sort(c.Nodes)
	return c
}
