package electiontest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

// ErrCut is what a cut candidate's store calls return.
var ErrCut = errors.New("electiontest: backend unreachable (cut by test)")

// cutStore wraps a Store with a reachability switch for one candidate.
type cutStore struct {
	election.Store
	cut atomic.Bool
}

// Cuttable wraps s so a test can make it unreachable for this candidate:
// while cut, calls hang for up to 100 ms (a lost packet) and then fail.
func Cuttable(s election.Store) (election.Store, func(ok bool)) {
	c := &cutStore{Store: s}
	return c, func(ok bool) { c.cut.Store(!ok) }
}

func (c *cutStore) check(ctx context.Context) error {
	if !c.cut.Load() {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return ErrCut
	}
}

func (c *cutStore) Get(ctx context.Context) (election.Record, string, error) {
	if err := c.check(ctx); err != nil {
		return election.Record{}, "", err
	}
	return c.Store.Get(ctx)
}

func (c *cutStore) Create(ctx context.Context, r election.Record) (string, error) {
	if err := c.check(ctx); err != nil {
		return "", err
	}
	return c.Store.Create(ctx, r)
}

func (c *cutStore) Update(ctx context.Context, r election.Record, prev string) (string, error) {
	if err := c.check(ctx); err != nil {
		return "", err
	}
	return c.Store.Update(ctx, r, prev)
}

// StealStore makes a stranger the holder of a CAS store's record.
func StealStore(t *testing.T, s election.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 20 {
		rec, ver, err := s.Get(ctx)
		if err != nil {
			t.Fatalf("steal: get: %v", err)
		}
		_, err = s.Update(ctx, election.Record{Holder: "stranger", Term: rec.Term + 1, TTL: time.Hour}, ver)
		if err == nil {
			return
		}
		if !errors.Is(err, election.ErrConflict) {
			t.Fatalf("steal: update: %v", err)
		}
	}
	t.Fatal("steal: could not win the record in 20 tries")
}

// CheckStore checks a Store's own compare-and-swap, with no lease algorithm
// on top, on a lease name nobody has used: the record is absent at first
// (ErrNotFound), round-trips exactly (holder, term, TTL to the millisecond),
// Create fails with ErrConflict once a record exists, Update succeeds only
// on the current version and returns a new one, and an Update on a stale
// version fails with ErrConflict and changes nothing. The memory store is
// the reference the fast tests trust, so it must check versions exactly as
// the real stores do; a store that skips its version check fails here.
func CheckStore(ctx context.Context, s election.Store) error {
	if _, _, err := s.Get(ctx); !errors.Is(err, election.ErrNotFound) {
		return fmt.Errorf("get before any write: %v, want ErrNotFound", err)
	}
	r1 := election.Record{Holder: "node-1", Term: 1, TTL: 1500 * time.Millisecond}
	v1, err := s.Create(ctx, r1)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := expect(ctx, s, r1, v1, "after create"); err != nil {
		return err
	}
	if _, err := s.Create(ctx, election.Record{Holder: "node-2", Term: 1, TTL: time.Second}); !errors.Is(err, election.ErrConflict) {
		return fmt.Errorf("second create: %v, want ErrConflict", err)
	}
	if err := expect(ctx, s, r1, v1, "after a refused create"); err != nil {
		return err
	}
	r2 := election.Record{Holder: "node-2", Term: 2, TTL: 2500 * time.Millisecond}
	v2, err := s.Update(ctx, r2, v1)
	if err != nil {
		return fmt.Errorf("update on the current version: %w", err)
	}
	if v2 == v1 {
		return fmt.Errorf("update returned the old version %q", v1)
	}
	if err := expect(ctx, s, r2, v2, "after update"); err != nil {
		return err
	}
	// v1 is stale now: a node that read it before node-2's write must lose.
	if _, err := s.Update(ctx, election.Record{Holder: "node-3", Term: 2, TTL: time.Second}, v1); !errors.Is(err, election.ErrConflict) {
		return fmt.Errorf("update on a stale version: %v, want ErrConflict", err)
	}
	if err := expect(ctx, s, r2, v2, "after a refused stale update"); err != nil {
		return err
	}
	// A release (empty holder) is a record like any other.
	r3 := election.Record{Holder: "", Term: 2, TTL: 2500 * time.Millisecond}
	v3, err := s.Update(ctx, r3, v2)
	if err != nil {
		return fmt.Errorf("release update: %w", err)
	}
	if v3 == v2 || v3 == v1 {
		return fmt.Errorf("release update reused version %q", v3)
	}
	return expect(ctx, s, r3, v3, "after release")
}

func expect(ctx context.Context, s election.Store, want election.Record, wantVer, when string) error {
	got, ver, err := s.Get(ctx)
	if err != nil {
		return fmt.Errorf("get %s: %w", when, err)
	}
	if got != want || ver != wantVer {
		return fmt.Errorf("get %s: %+v version %q, want %+v version %q", when, got, ver, want, wantVer)
	}
	return nil
}
