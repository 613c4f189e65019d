package election

import (
	"context"
	"errors"
	"time"
)

// Cadences. A leader does not need to renew every retry period: its
// validity runs from the send time of its last confirmed renewal, so it only
// has to start renewing early enough that a failed attempt can be retried
// before the deadline. Followers keep reading every retry period, which is
// what bounds crash takeover (lease-ttl + retry-period): a follower's
// observation of the last version starts at most one period after it was
// written. Every request is paid per group for as long as the group runs
// (DynamoDB write units, Azure write operations), so the leader's renewals
// dominate the bill; docs/prices.json and scripts/bench/leasecost count it.

// RenewInterval is the leader's interval between a confirmed renewal and
// the next one: renew-deadline − 1.25 × retry-period, but never less than
// the retry period. It leaves room for the scheduled attempt plus at least
// one retry a retry period later (Validate guarantees 1.2 × retry-period <
// renew-deadline), each of which is bounded by the deadline. A failed
// renewal is retried every retry period, as before. Defaults (10 s, 2 s):
// 7.5 s, i.e. 480 renewals an hour instead of 1,800.
func RenewInterval(c Config) time.Duration {
	return max(c.RetryPeriod, c.RenewDeadline-c.RetryPeriod*5/4)
}

// renewEvery is this engine's interval between confirmed renewals. Roster
// backends (file, memory) are local and cost nothing per request; their
// leader keeps reading the roster after every renewal, and the roster
// window (three retry periods) assumes it does so every retry period.
func (e *Engine) renewEvery() time.Duration {
	if _, ok := e.b.(Roster); ok {
		return e.cfg.RetryPeriod
	}
	return RenewInterval(e.cfg)
}

// ChangeGetter is implemented by Stores that can read the record only if
// its version differs from one already seen, more cheaply than Get (Azure:
// a GET with If-None-Match on the ETag answers 304 without a body). A
// follower reads every retry period and the record changes only once per
// renew interval, so most of its reads find it unchanged.
type ChangeGetter interface {
	// GetIfChanged returns ErrUnchanged when the record's version is
	// still known; otherwise what Get returns.
	GetIfChanged(ctx context.Context, known string) (rec Record, ver string, err error)
}

// ErrUnchanged is GetIfChanged's answer when the record still has the
// version the caller knows: nothing was read, and there is nothing new.
var ErrUnchanged = errors.New("lease record unchanged since the known version")

// get reads the record, through GetIfChanged when the store has it and a
// version was seen: an unchanged version gives back the record seen with
// it. The observation rules of look (seenAt restarts only on a version
// change) are the same either way, since the version is what they watch.
func (b *casBackend) get(ctx context.Context) (Record, string, error) {
	cg, ok := b.store.(ChangeGetter)
	if !ok || b.seenVersion == "" {
		return b.store.Get(ctx)
	}
	rec, ver, err := cg.GetIfChanged(ctx, b.seenVersion)
	if errors.Is(err, ErrUnchanged) {
		return b.seenRec, b.seenVersion, nil
	}
	return rec, ver, err
}
