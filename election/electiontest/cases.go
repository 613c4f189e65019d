package electiontest

import (
	"context"
	"testing"
	"time"
)

func (s *Suite) firstLeaderBound() time.Duration {
	return s.Timing.LeaseTTL + 2*s.Timing.RetryPeriod + time.Second
}

// takeoverBound is the longest a crash takeover may take: the holder's last
// write is seen at most one retry period after it happened, the TTL then
// runs on the follower's clock, plus a period of scheduling and 1 s for the
// server round trips of a busy CI machine.
func (s *Suite) takeoverBound() time.Duration {
	return s.Timing.LeaseTTL + 2*s.Timing.RetryPeriod + time.Second
}

func testMutualExclusion(t *testing.T, s *Suite) {
	g := newGroup(t, s, s.Candidates)
	l := g.waitLeader(s.firstLeaderBound())
	// Hold for two TTLs: the holder keeps renewing, nobody else gets in.
	time.Sleep(2 * s.Timing.LeaseTTL)
	g.invariant()
	if !l.leading() {
		t.Fatalf("%s lost leadership while renewing normally: lost events %v", l.id, l.lost)
	}
	total := 0
	for _, n := range g.nodes {
		n.mu.Lock()
		total += len(n.elected)
		n.mu.Unlock()
	}
	if total != 1 {
		t.Fatalf("want exactly one grant in a stable group, got %d", total)
	}
}

func testTakeoverAfterTTL(t *testing.T, s *Suite) {
	g := newGroup(t, s, s.Candidates)
	l := g.waitLeader(s.firstLeaderBound())
	oldTerm := l.cur.Load().Term
	stopped := time.Now()
	l.stop() // crash: no release
	n := g.waitLeader(s.takeoverBound(), l)
	took := time.Since(stopped)
	// The last renewal was sent at most one retry period before the stop,
	// and the lease lasts a TTL from then.
	if min := s.Timing.LeaseTTL - s.Timing.RetryPeriod - 50*time.Millisecond; took < min {
		t.Fatalf("%s took over %s after the holder stopped, before the TTL could have run out (min %s)", n.id, took, min)
	}
	if term := n.cur.Load().Term; term <= oldTerm {
		t.Fatalf("new term %d not greater than old term %d", term, oldTerm)
	}
	t.Logf("crash takeover in %s (ttl %s)", took.Round(time.Millisecond), s.Timing.LeaseTTL)
	g.invariant()
}

func testReleaseTakeover(t *testing.T, s *Suite) {
	g := newGroup(t, s, s.Candidates)
	l := g.waitLeader(s.firstLeaderBound())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	released := time.Now()
	if err := l.eng.Release(ctx, 10*s.Timing.LeaseTTL); err != nil {
		t.Fatalf("release: %v", err)
	}
	n := g.waitLeader(s.ReleaseTakeover+time.Since(released), l)
	took := time.Since(released)
	if took > s.ReleaseTakeover {
		t.Fatalf("takeover after release took %s, want <= %s", took, s.ReleaseTakeover)
	}
	t.Logf("release takeover by %s in %s", n.id, took.Round(time.Millisecond))
	g.invariant()
}

func testTermsIncrease(t *testing.T, s *Suite) {
	g := newGroup(t, s, s.Candidates)
	var terms []uint64
	for i := 0; i < 4; i++ {
		l := g.waitLeader(s.firstLeaderBound())
		terms = append(terms, l.cur.Load().Term)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// Sit out long enough that another node wins the next round, but
		// not so long that every node sits out at once.
		err := l.eng.Release(ctx, s.ReleaseTakeover+200*time.Millisecond)
		cancel()
		if err != nil {
			t.Fatalf("release: %v", err)
		}
		g.waitLeader(s.ReleaseTakeover+time.Second, l)
	}
	for i := 1; i < len(terms); i++ {
		if terms[i] <= terms[i-1] {
			t.Fatalf("terms not strictly increasing: %v", terms)
		}
	}
	// Every grant any node saw, in time order, also increases.
	var all []grant
	for _, n := range g.nodes {
		n.mu.Lock()
		all = append(all, n.elected...)
		n.mu.Unlock()
	}
	for i := range all {
		for j := range all {
			if all[i].at.Before(all[j].at) && all[i].term >= all[j].term {
				t.Fatalf("grant term %d at %s not below later grant term %d at %s",
					all[i].term, all[i].at.Format("15:04:05.000"), all[j].term, all[j].at.Format("15:04:05.000"))
			}
		}
	}
	g.invariant()
}

func testUnreachableLeader(t *testing.T, s *Suite) {
	g := newGroup(t, s, s.Candidates)
	l := g.waitLeader(s.firstLeaderBound())
	cut := time.Now()
	l.c.SetReachable(false)
	// The leader must give up by its deadline (last renew sent before the
	// cut + renew-deadline), well before the TTL that others wait out.
	for l.leading() {
		if time.Since(cut) > s.Timing.RenewDeadline+200*time.Millisecond {
			t.Fatalf("leader still valid %s after losing the backend (renew-deadline %s)", time.Since(cut), s.Timing.RenewDeadline)
		}
		time.Sleep(time.Millisecond)
	}
	fenced := time.Since(cut)
	if fenced >= s.Timing.LeaseTTL {
		t.Fatalf("self-fence after %s, not before the TTL %s", fenced, s.Timing.LeaseTTL)
	}
	n := g.waitLeader(s.takeoverBound(), l)
	t.Logf("leader fenced %s after the cut; %s took over %s after it", fenced.Round(time.Millisecond), n.id, time.Since(cut).Round(time.Millisecond))
	l.c.SetReachable(true)
	time.Sleep(s.Timing.LeaseTTL)
	g.invariant()
	if !n.leading() {
		t.Fatalf("%s lost leadership when the old leader came back", n.id)
	}
}

func testOutageForAll(t *testing.T, s *Suite) {
	g := newGroup(t, s, s.Candidates)
	l := g.waitLeader(s.firstLeaderBound())
	cut := time.Now()
	for _, n := range g.nodes {
		n.c.SetReachable(false)
	}
	for len(g.leaders()) > 0 {
		if time.Since(cut) > s.Timing.RenewDeadline+200*time.Millisecond {
			t.Fatalf("leader %s still valid %s into a full backend outage", l.id, time.Since(cut))
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(s.Timing.LeaseTTL)
	if len(g.leaders()) != 0 {
		t.Fatal("a node became leader while nobody could reach the backend")
	}
	for _, n := range g.nodes {
		n.c.SetReachable(true)
	}
	back := time.Now()
	n := g.waitLeader(s.takeoverBound() + s.Timing.LeaseTTL)
	t.Logf("after the outage %s leads, %s after the backend returned", n.id, time.Since(back).Round(time.Millisecond))
	g.invariant()
}

func testLostLease(t *testing.T, s *Suite) {
	g := newGroup(t, s, s.Candidates)
	l := g.waitLeader(s.firstLeaderBound())
	lease := l.cur.Load()
	stolen := time.Now()
	s.Steal(t, g.lease)
	// The deadline the lease had when it was stolen: a loss treated as a
	// transient error would keep the lease until exactly then.
	deadline := lease.Deadline()
	for lease.Valid() {
		if time.Since(stolen) > s.Timing.RetryPeriod+time.Second {
			t.Fatalf("leader still valid %s after its lease was taken", time.Since(stolen))
		}
		time.Sleep(time.Millisecond)
	}
	ended := time.Now()
	if !ended.Before(deadline) {
		t.Fatalf("lost lease ended %s after the theft, at its deadline (%s late): it was treated as a transient error instead of demoting at once",
			ended.Sub(stolen), ended.Sub(deadline))
	}
	// The lease ends just before the Lost event is delivered: wait for it.
	for end := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		n := len(l.lost)
		l.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no Lost event after the lease was taken")
		}
	}
	t.Logf("lost lease noticed in %s, %s before its deadline", ended.Sub(stolen).Round(time.Millisecond), deadline.Sub(ended).Round(time.Millisecond))
}
