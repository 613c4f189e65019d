//go:build linux

package e2e

import (
	"slices"
	"time"
)

// outageAndPeerCut: the backend is unreachable from every node, the leader
// is in failsafe with promises from both peers, then it is cut off from one
// peer. It must stop answering the probe before that peer's promise ends
// (the peer may act once its promise is over); when the backend returns,
// one node leads within lease-ttl + promise.
func (c *fsCluster) outageAndPeerCut() {
	t := c.t
	tm, p := c.Timing, c.g.promise
	lead := c.WaitStable("", false, c.settleBudget())
	name := lead.Host.Name
	x := c.others(lead)[0]
	fault := time.Now()
	restoreBackend := c.BackendOff(c.hosts()...)
	backendOff := true
	defer func() {
		if backendOff {
			restoreBackend()
		}
	}()
	// Failsafe on, and x holds a promise to the leader.
	if _, ok := waitFor(tm.Renew+2*tm.Retry, func() bool {
		s, err := c.status(x)
		return c.failsafeActive(lead) && err == nil && s.givenTo(name) > 0
	}); !ok {
		t.Fatalf("%s not in failsafe with a promise from %s %s after the backend went off\n%s",
			name, x.Host.Name, tm.Renew+2*tm.Retry, tail(lead.Log(), 20))
	}
	time.Sleep(tm.Retry) // promises refreshed at least once
	cut := time.Now()
	restoreCut := c.CutPeers(lead.Host, x.Host)
	cutOn := true
	defer func() {
		if cutOn {
			restoreCut()
		}
	}()
	// x's promise end, read after the cut (no grant reaches it any more):
	// at least the read's start + what it had left.
	read := time.Now()
	s, err := c.status(x)
	if err != nil {
		t.Fatalf("status of %s: %v", x.Host.Name, err)
	}
	left := s.givenTo(name)
	if left <= 0 {
		t.Fatalf("%s holds no promise to %s right after the cut: %+v", x.Host.Name, name, s.Failsafe)
	}
	xEnd := read.Add(time.Duration(left) * time.Millisecond)

	// The leader demotes by its own belief of x's promise, before xEnd.
	// Gone for 300 ms on end: one round the sampler missed is not a demotion.
	var gone time.Time
	_, ok := waitFor(p+2*time.Second, func() bool {
		if slices.Contains(c.Probe.Current(), name) {
			gone = time.Time{}
		} else if gone.IsZero() {
			gone = time.Now()
		}
		return !gone.IsZero() && time.Since(gone) >= 300*time.Millisecond
	})
	if !ok {
		t.Fatalf("%s still answers the probe %s after the cut from %s", name, time.Since(cut).Round(time.Millisecond), x.Host.Name)
	}
	time.Sleep(500 * time.Millisecond) // nobody leads: the backend is off everywhere
	back := time.Now()
	var lastAns time.Time
	if a := c.answeredBy(cut, back, name); len(a) > 0 {
		lastAns = a[len(a)-1].At
	}
	restoreBackend()
	backendOff = false
	var first time.Time
	waitFor(tm.TTL+p+tm.Retry+10*time.Second, func() bool {
		for _, s := range c.Probe.Samples() {
			if s.At.After(back) && len(s.Answered) == 1 {
				first = s.At
				return true
			}
		}
		return false
	})
	restoreCut()
	cutOn = false
	cur := c.WaitStable("", false, c.settleBudget())
	end := time.Now()
	r := Analyse(c.Window(fault, end, name, cur.Host.Name))
	c.logf("peer-cut: %s in failsafe, cut from %s at +%s; %s's promise had %d ms left; %s last answered %s after the cut, %s before that promise ended; backend back: one leader after %s (bound lease-ttl %s + promise %s); probe double %d, LB overlap %.0f ms",
		name, x.Host.Name, cut.Sub(fault).Round(time.Millisecond), x.Host.Name, left, name,
		lastAns.Sub(cut).Round(time.Millisecond), xEnd.Sub(lastAns).Round(time.Millisecond),
		first.Sub(back).Round(time.Millisecond), tm.TTL, p, r.ProbeDouble, r.LBOverlapMS)
	if !lastAns.IsZero() && !lastAns.Before(xEnd) {
		t.Errorf("%s answered the probe at %s after the cut, not before %s's promise ended (%s after the cut)",
			name, lastAns.Sub(cut), x.Host.Name, xEnd.Sub(cut))
	}
	if first.IsZero() || first.Sub(back) > tm.TTL+p+tm.Retry+probeEvery {
		t.Errorf("after the backend returned one node led after %s, want <= lease-ttl %s + promise %s + retry %s\n%s",
			first.Sub(back), tm.TTL, p, tm.Retry, c.Probe.Timeline())
	}
	if r.ProbeDouble > 0 || r.LBOverlapMS > 0 || r.ClientAlternations > 0 {
		t.Errorf("%d probe rounds with two nodes answering, %d alternations, %.0f ms LB overlap; want none",
			r.ProbeDouble, r.ClientAlternations, r.LBOverlapMS)
	}
}
