// Failsafe promise arithmetic (DESIGN.md "Peers and failsafe"). A leader
// that cannot reach the backend asks every configured peer for a promise
// not to acquire for a duration P. The leader counts P from before it sent
// the request (t0, its monotonic clock) minus a margin for clock-rate
// error; the peer counts it from receipt on its own clock, which is later.
// So the peer's promise always outlasts the leader's belief, as long as
// the two clocks' rates differ by less than the margin.

package election

import (
	"time"

	"github.com/lbhc/lbhc/configerr"
)

// Failsafe promise bounds (--failsafe-promise).
const (
	// DefaultFailsafePromise is how long one promise lasts by default: the
	// default renew-deadline, so a leader killed while in failsafe is
	// replaced within lease-ttl + 10 s.
	DefaultFailsafePromise = 10 * time.Second
	// MaxFailsafePromise bounds a promise: every peer refuses to acquire
	// for that long after the leader is gone.
	MaxFailsafePromise = 5 * time.Minute
)

// PromiseMargin is what the leader takes off a promise of p for the rate
// error between its clock and the peer's: 1 % of p (NTP-disciplined or
// free-running crystals drift by well under 0.01 %) plus 100 ms for
// scheduling between taking t0 and sending the request.
func PromiseMargin(p time.Duration) time.Duration { return p/100 + 100*time.Millisecond }

// ValidateFailsafePromise checks --failsafe-promise against the timing: a
// promise (less its margin) must outlast two retry periods so that a
// failed promise round can be retried before the promises run out.
func ValidateFailsafePromise(p time.Duration, c Config) error {
	switch {
	case p <= 0:
		return configerr.New("failsafe-promise", "must be positive, got %s", p)
	case p > MaxFailsafePromise:
		return configerr.New("failsafe-promise", "%s is longer than the maximum %s", p, MaxFailsafePromise)
	case p-PromiseMargin(p) <= 2*c.RetryPeriod:
		return configerr.New("failsafe-promise", "%s less its margin %s must be longer than 2 x --retry-period %s",
			p, PromiseMargin(p), c.RetryPeriod)
	}
	return nil
}

// PromiseEnd is when a leader stops believing one peer's grant: t0 (its
// monotonic clock before the request was sent) + granted - margin(asked).
// A grant longer than asked counts as asked. ok is false when the grant is
// void: nothing granted, or it arrived (got) at or after the end it would
// give, as a reply delayed in the network may.
func PromiseEnd(t0 time.Time, asked, granted time.Duration, got time.Time) (end time.Time, ok bool) {
	if granted <= 0 || asked <= 0 || got.Before(t0) {
		return time.Time{}, false
	}
	granted = min(granted, asked)
	end = t0.Add(granted - PromiseMargin(asked))
	if !got.Before(end) {
		return time.Time{}, false
	}
	return end, true
}

// PromiseRound collects the grants of one failsafe round: one request for
// term, asked at t0 for asked, to every peer.
type PromiseRound struct {
	Term  uint64
	T0    time.Time
	Asked time.Duration
	ends  map[string]time.Time // peer -> believed end; absent = no valid grant
	peers []string
}

// NewPromiseRound starts a round; t0 must be read before any request is
// sent.
func NewPromiseRound(term uint64, t0 time.Time, asked time.Duration, peers []string) *PromiseRound {
	return &PromiseRound{Term: term, T0: t0, Asked: asked, ends: make(map[string]time.Time, len(peers)), peers: peers}
}

// Grant records peer's answer received at got. A grant for another term
// or from a peer outside the round is void. It reports whether the grant
// counts.
func (r *PromiseRound) Grant(peer string, term uint64, granted time.Duration, got time.Time) bool {
	if term != r.Term || !r.member(peer) {
		return false
	}
	end, ok := PromiseEnd(r.T0, r.Asked, granted, got)
	if ok {
		r.ends[peer] = end
	}
	return ok
}

func (r *PromiseRound) member(peer string) bool {
	for _, p := range r.peers {
		if p == peer {
			return true
		}
	}
	return false
}

// Validity is the earliest believed end over ALL peers of the round; ok is
// false while any peer has no valid grant (or there are no peers).
func (r *PromiseRound) Validity() (until time.Time, ok bool) {
	if len(r.peers) == 0 {
		return time.Time{}, false
	}
	for _, p := range r.peers {
		end, has := r.ends[p]
		if !has {
			return time.Time{}, false
		}
		if until.IsZero() || end.Before(until) {
			until = end
		}
	}
	return until, true
}

// End is the believed end of peer's grant in this round.
func (r *PromiseRound) End(peer string) (time.Time, bool) {
	e, ok := r.ends[peer]
	return e, ok
}

// Missing lists the peers without a valid grant, for logs.
func (r *PromiseRound) Missing() []string {
	var m []string
	for _, p := range r.peers {
		if _, ok := r.ends[p]; !ok {
			m = append(m, p)
		}
	}
	return m
}
