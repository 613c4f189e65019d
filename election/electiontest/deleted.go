package electiontest

import (
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

// testDeletedRecord deletes the record under a leader. A vanished record
// is a holder that stopped renewing, not a free lease: the leader demotes
// at its next renewal, nobody else leads before a full TTL has passed since
// the deletion, two nodes never hold valid leases at once (the sampler),
// and the next grant's term is above every term granted before.
func testDeletedRecord(t *testing.T, s *Suite) {
	g := newGroup(t, s, s.Candidates)
	l := g.waitLeader(s.firstLeaderBound())
	// Let the followers see the record and its term.
	time.Sleep(2 * s.Timing.RetryPeriod)
	var before uint64
	for _, n := range g.nodes {
		n.mu.Lock()
		for _, gr := range n.elected {
			before = max(before, gr.term)
		}
		n.mu.Unlock()
	}
	deleted := time.Now()
	s.Delete(t, g.lease)
	for l.leading() {
		if time.Since(deleted) > s.Timing.RenewDeadline+200*time.Millisecond {
			t.Fatalf("leader %s still valid %s after its record was deleted", l.id, time.Since(deleted))
		}
		time.Sleep(time.Millisecond)
	}
	demoted := time.Since(deleted)
	// Any node may win, the old leader too: it waits like the others.
	n := g.waitLeader(s.takeoverBound() + s.Timing.LeaseTTL)
	took := time.Since(deleted)
	// The old holder's lease could have lasted up to a TTL from its last
	// renewal, at most a renew interval before the deletion.
	if min := s.Timing.LeaseTTL - election.RenewInterval(s.Timing) - 50*time.Millisecond; took < min {
		t.Fatalf("%s led %s after the record was deleted, before the holder's TTL could have run out (min %s)", n.id, took, min)
	}
	if term := n.cur.Load().Term; term <= before {
		t.Fatalf("term %d after the record was deleted, not above term %d granted before", term, before)
	}
	t.Logf("record deleted: %s demoted after %s, %s took over after %s", l.id, demoted.Round(time.Millisecond), n.id, took.Round(time.Millisecond))
	g.invariant()
}
