package electiontest

import (
	"context"
	"errors"
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
