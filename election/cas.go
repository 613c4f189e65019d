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
	// ErrCorrupt marks a record that exists but is not a valid lbhc lease
	// record (unparsable, null, missing fields, a term below one this node
	// has seen). It is never taken as free and never overwritten: it may be
	// someone else's data, or a reset that would reuse fencing numbers.
	ErrCorrupt = errors.New("lease record is not valid")
)

// Record is the lease record kept by a compare-and-swap store.
type Record struct {
	Holder string        // node id of the holder; "" after a release
	Term   uint64        // fencing number of the current grant
	TTL    time.Duration // the holder's lease-ttl, so followers wait at least that long
}

// maxRecordTTL bounds the lease duration a record may carry: followers
// wait at least that long, so a huge value (or one that overflows a
// Duration) from a corrupt record must not stall the group for ever.
const maxRecordTTL = 24 * time.Hour

// recordTTL converts a record's lease_duration_ms, refusing values no lbhc
// node writes.
func recordTTL(ms int64) (time.Duration, error) {
	if ms <= 0 || ms > maxRecordTTL.Milliseconds() {
		return 0, fmt.Errorf("%w: lease_duration_ms %d is not in 1..%d", ErrCorrupt, ms, maxRecordTTL.Milliseconds())
	}
	return time.Duration(ms) * time.Millisecond, nil
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
//
// A missing record is not free either: it may have been deleted under a
// holder that still renews (by hand, a table TTL, a lifecycle policy). A
// node creates the record only after every read for a full TTL found it
// missing; the holder's Update fails on the missing record, so it demotes
// at its next renewal, long before that.
type casBackend struct {
	store Store
	id    string
	ttl   time.Duration
	// extraTTL is added to the TTL written into the record (failsafe:
	// the promise time), not to this node's own wait.
	extraTTL time.Duration
	clock    Clock
	terms    *TermFile // nil: the highest term is kept in memory only

	seenVersion string    // last version observed as a follower
	seenRec     Record    // the record read with seenVersion (for ChangeGetter)
	seenAt      time.Time // when seenVersion was first observed (after the read returned)

	// absentSince is when the first of the current run of reads that found
	// no record returned; zero while the last read found one.
	absentSince time.Time
	lastTTL     time.Duration // the TTL of the last record seen
	maxTerm     uint64        // highest term seen in a record or granted

	myVersion string // version of our own last write while we hold the lease
	myTerm    uint64
}

// CASOption configures NewCASBackend.
type CASOption func(*casBackend)

// WithTermFile keeps the highest term this node has seen in f, so a node
// restarted after its lease record was deleted never grants a term that
// was used before.
func WithTermFile(f *TermFile) CASOption {
	return func(b *casBackend) {
		b.terms = f
		b.maxTerm = max(b.maxTerm, f.Load())
	}
}

// NewCASBackend builds the lease algorithm over a Store.
func NewCASBackend(store Store, nodeID string, ttl time.Duration, clock Clock, opts ...CASOption) Backend {
	if clock == nil {
		clock = SystemClock{}
	}
	b := &casBackend{store: store, id: nodeID, ttl: ttl, clock: clock}
	for _, o := range opts {
		o(b)
	}
	if r, ok := store.(Roster); ok {
		return casRosterBackend{b, r}
	}
	return b
}

func (b *casBackend) TryAcquire(ctx context.Context, renew bool) (State, error) {
	if renew && b.myVersion != "" {
		v, err := b.store.Update(ctx, Record{Holder: b.id, Term: b.myTerm, TTL: b.ttl + b.extraTTL}, b.myVersion)
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

// look reads the record and updates the follower's observation of it. A
// record is free when it was released, or when its version (or its
// absence) has stayed unchanged for a full TTL on this node's clock.
func (b *casBackend) look(ctx context.Context) (Record, string, State, bool, error) {
	rec, ver, err := b.get(ctx)
	now := b.clock.Now()
	if errors.Is(err, ErrNotFound) {
		return b.absent(now)
	}
	if err != nil {
		return Record{}, "", State{Term: b.maxTerm}, false, err
	}
	if err := b.validate(rec); err != nil {
		return Record{}, "", State{Term: b.maxTerm}, false, err
	}
	// A term below one seen here: the record was reset outside lbhc (a
	// node that missed the last grants recreated a deleted record). Not
	// free while its holder renews, and reported; once unchanged for a
	// TTL it is taken over like any record, with a term above both.
	stale := b.stale(rec)
	b.absentSince = time.Time{}
	b.lastTTL = rec.TTL
	b.noteTerm(rec.Term)
	if ver != b.seenVersion {
		b.seenVersion, b.seenAt = ver, now
	}
	b.seenRec = rec
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
		return rec, ver, st, false, stale
	}
	st.Leader = "" // expired: nobody serves
	return rec, ver, st, true, nil
}

// absent handles a read that found no record: free only once every read
// for a full TTL (the longer of ours and the last record's) found none.
// The run starts when the first such read returned, which is after the
// deletion and so after the holder's last successful renewal was sent:
// the holder's deadline (renewal + renew-deadline) has passed by then.
func (b *casBackend) absent(now time.Time) (Record, string, State, bool, error) {
	b.seenVersion = ""
	if b.absentSince.IsZero() {
		b.absentSince = now
	}
	st := State{Term: b.maxTerm}
	if left := max(b.ttl, b.lastTTL) - now.Sub(b.absentSince); left > 0 {
		st.RetryAfter = left
		return Record{}, "", st, false, nil
	}
	return Record{Term: b.maxTerm}, "", st, true, nil
}

// validate refuses records no lbhc node writes (term 0 with a holder, no
// TTL). They are never free and never overwritten: the file or item may
// be someone else's.
func (b *casBackend) validate(rec Record) error {
	switch {
	case rec.Term == 0 && rec.Holder != "":
		// Term 0 is only "never granted", which nobody can hold.
		return fmt.Errorf("%w: term missing or 0 with holder %q", ErrCorrupt, rec.Holder)
	case rec.TTL <= 0:
		return fmt.Errorf("%w: lease duration missing or not positive", ErrCorrupt)
	}
	return nil
}

// stale reports a record whose term is below the highest term this node
// has seen (which noteTerm has not yet raised).
func (b *casBackend) stale(rec Record) error {
	if rec.Term >= b.maxTerm {
		return nil
	}
	return fmt.Errorf("%w: term %d is below term %d this node has seen: the record was reset outside lbhc; its holder's grant reuses a fencing number",
		ErrCorrupt, rec.Term, b.maxTerm)
}

// noteTerm raises the highest term seen. Saving an observed term is best
// effort: grant saves its own term before it writes, and fails if it cannot.
func (b *casBackend) noteTerm(t uint64) {
	if t <= b.maxTerm {
		return
	}
	b.maxTerm = t
	if b.terms != nil {
		_ = b.terms.Save(t)
	}
}

// grant writes a new grant with the next term, conditional on ver ("" =
// create).
func (b *casBackend) grant(ctx context.Context, prev Record, ver string) (State, error) {
	next := Record{Holder: b.id, Term: max(prev.Term, b.maxTerm) + 1, TTL: b.ttl + b.extraTTL}
	// Keep the term before it is used: if the write lands and this node
	// then loses the record, it must never grant this term again.
	if b.terms != nil {
		if err := b.terms.Save(next.Term); err != nil {
			return State{}, err
		}
	}
	b.maxTerm = next.Term
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
	b.absentSince = time.Time{}
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
