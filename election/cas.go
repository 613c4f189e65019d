package election

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store errors. Implementations wrap them (%w) so the CAS logic can tell a
// lost race from a transient fault.
var (
	ErrNotFound = errors.New("lease record not found")
	ErrConflict = errors.New("lease record changed concurrently")
)

// Record is the lease record kept by a compare-and-swap store.
type Record struct {
	Holder string        // node id of the holder; "" after a release
	Term   uint64        // fencing number of the current grant
	TTL    time.Duration // the holder's lease-ttl, so followers wait at least that long
}

// Store is a record with an opaque version that changes on every write.
// File, DynamoDB and Azure blob-record backends are Stores.
type Store interface {
	// Get returns the record and its version, or an error wrapping
	// ErrNotFound when there is none.
	Get(ctx context.Context) (Record, string, error)
	// Create writes rec only if no record exists (else ErrConflict).
	Create(ctx context.Context, rec Record) (string, error)
	// Update writes rec only if the current version is prev (else
	// ErrConflict) and returns the new version.
	Update(ctx context.Context, rec Record, prev string) (string, error)
	// Close frees client resources.
	Close() error
}

// casBackend turns a Store into a Backend. A follower takes an unreleased
// lease only after it has seen the same record version unchanged for a full
// TTL on its own monotonic clock, and then only by a conditional write on
// that version, so no clock synchronisation between nodes is needed.
type casBackend struct {
	store Store
	id    string
	ttl   time.Duration
	clock Clock

	seenVersion string    // last version observed as a follower
	seenAt      time.Time // when seenVersion was first observed (after the read returned)

	myVersion string // version of our own last write while we hold the lease
	myTerm    uint64
}

// NewCASBackend builds the lease algorithm over a Store.
func NewCASBackend(store Store, nodeID string, ttl time.Duration, clock Clock) Backend {
	if clock == nil {
		clock = SystemClock{}
	}
	b := &casBackend{store: store, id: nodeID, ttl: ttl, clock: clock}
	if r, ok := store.(Roster); ok {
		return casRosterBackend{b, r}
	}
	return b
}

func (b *casBackend) TryAcquire(ctx context.Context, renew bool) (State, error) {
	if renew && b.myVersion != "" {
		v, err := b.store.Update(ctx, Record{Holder: b.id, Term: b.myTerm, TTL: b.ttl}, b.myVersion)
		if errors.Is(err, ErrConflict) {
			b.myVersion = ""
			return State{}, fmt.Errorf("renew term %d: %w", b.myTerm, ErrLeaseLost)
		}
		if err != nil {
			return State{Held: true, Term: b.myTerm, Leader: b.id}, err
		}
		b.myVersion = v
		return State{Held: true, Term: b.myTerm, Leader: b.id}, nil
	}
	if renew {
		return State{}, fmt.Errorf("renew without a grant: %w", ErrLeaseLost)
	}
	b.myVersion = ""

	rec, ver, st, free, err := b.look(ctx)
	if err != nil {
		return State{}, err
	}
	if !free {
		return st, nil
	}
	return b.grant(ctx, rec, ver)
}

// Peek reports the holder and whether the lease could be taken now.
func (b *casBackend) Peek(ctx context.Context) (State, bool, error) {
	_, _, st, free, err := b.look(ctx)
	return st, free, err
}

// look reads the record and updates the follower's observation of its
// version. A missing record is free.
func (b *casBackend) look(ctx context.Context) (Record, string, State, bool, error) {
	rec, ver, err := b.store.Get(ctx)
	if errors.Is(err, ErrNotFound) {
		return Record{}, "", State{}, true, nil
	}
	if err != nil {
		return Record{}, "", State{}, false, err
	}
	now := b.clock.Now()
	if ver != b.seenVersion {
		b.seenVersion, b.seenAt = ver, now
	}
	st := State{Term: rec.Term, Leader: rec.Holder}
	// Only a released record is free at once. Our own id in the record (a
	// crashed earlier run, a grant we fenced ourselves out of) waits out the
	// TTL like any other holder: two hosts cloned with the same hostname
	// must not both take it.
	if rec.Holder == "" {
		return rec, ver, st, true, nil
	}
	wait := max(b.ttl, rec.TTL)
	if left := wait - now.Sub(b.seenAt); left > 0 {
		st.RetryAfter = left
		return rec, ver, st, false, nil
	}
	st.Leader = "" // expired: nobody serves
	return rec, ver, st, true, nil
}

// grant writes a new grant with the next term, conditional on ver ("" =
// create).
func (b *casBackend) grant(ctx context.Context, prev Record, ver string) (State, error) {
	next := Record{Holder: b.id, Term: prev.Term + 1, TTL: b.ttl}
	var (
		v   string
		err error
	)
	if ver == "" {
		v, err = b.store.Create(ctx, next)
	} else {
		v, err = b.store.Update(ctx, next, ver)
	}
	if errors.Is(err, ErrConflict) {
		// Someone else wrote first; we are a follower of whoever that was.
		return State{Term: prev.Term, Leader: prev.Holder}, nil
	}
	if err != nil {
		return State{}, err
	}
	b.myVersion, b.myTerm = v, next.Term
	b.seenVersion = ""
	return State{Held: true, Term: next.Term, Leader: b.id}, nil
}

func (b *casBackend) Release(ctx context.Context) error {
	if b.myVersion == "" {
		return nil
	}
	_, err := b.store.Update(ctx, Record{Holder: "", Term: b.myTerm, TTL: b.ttl}, b.myVersion)
	b.myVersion = ""
	if errors.Is(err, ErrConflict) {
		return nil // not ours any more: nothing to release
	}
	return err
}

func (b *casBackend) Close() error { return b.store.Close() }
