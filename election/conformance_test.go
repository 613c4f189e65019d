package election_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/electiontest"
)

const ttl = 1500 * time.Millisecond

func TestConformanceMemory(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	stores := map[string]*election.MemoryStore{}
	get := func(lease string) *election.MemoryStore {
		mu.Lock()
		defer mu.Unlock()
		if stores[lease] == nil {
			stores[lease] = election.NewMemoryStore()
		}
		return stores[lease]
	}
	electiontest.Run(t, electiontest.Suite{
		New: func(t *testing.T, lease, id string) electiontest.Candidate {
			st, set := electiontest.Cuttable(get(lease))
			return electiontest.Candidate{Backend: election.NewCASBackend(st, id, ttl, nil), SetReachable: set}
		},
		Steal:  func(t *testing.T, lease string) { electiontest.StealStore(t, get(lease)) },
		Delete: func(t *testing.T, lease string) { get(lease).Delete() },
		Store:  func(t *testing.T, lease string) election.Store { return get(lease) },
	})
}

func TestConformanceFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := func(lease string) string { return filepath.Join(dir, lease+".lease") }
	electiontest.Run(t, electiontest.Suite{
		New: func(t *testing.T, lease, id string) electiontest.Candidate {
			fs, err := election.NewFileStore(path(lease))
			if err != nil {
				t.Fatal(err)
			}
			st, set := electiontest.Cuttable(fs)
			return electiontest.Candidate{Backend: election.NewCASBackend(st, id, ttl, nil), SetReachable: set}
		},
		Steal: func(t *testing.T, lease string) {
			fs, err := election.NewFileStore(path(lease))
			if err != nil {
				t.Fatal(err)
			}
			electiontest.StealStore(t, fs)
		},
		// Under the lock: an rm racing a renewal's rename is undone by it
		// (the record is back, held by the same leader), which is safe but
		// not the case under test.
		Delete: func(t *testing.T, lease string) {
			fs, err := election.NewFileStore(path(lease))
			if err == nil {
				err = fs.Delete(context.Background())
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		Store: func(t *testing.T, lease string) election.Store {
			fs, err := election.NewFileStore(path(lease))
			if err != nil {
				t.Fatal(err)
			}
			return fs
		},
	})
}

// noVersionCheck is a deliberately broken store, for this test only: its
// Update ignores the version it is given and writes over whatever is there,
// as a store that forgot its condition would.
type noVersionCheck struct{ election.Store }

func (s noVersionCheck) Update(ctx context.Context, rec election.Record, _ string) (string, error) {
	_, cur, err := s.Store.Get(ctx)
	if err != nil {
		return "", err
	}
	return s.Store.Update(ctx, rec, cur)
}

// The store check catches a store that skips its version check, and passes
// the reference stores it wraps.
func TestCheckStoreCatchesMissingVersionCheck(t *testing.T) {
	ctx := context.Background()
	if err := electiontest.CheckStore(ctx, election.NewMemoryStore()); err != nil {
		t.Fatalf("memory store: %v", err)
	}
	err := electiontest.CheckStore(ctx, noVersionCheck{election.NewMemoryStore()})
	if err == nil || !strings.Contains(err.Error(), "stale version") {
		t.Fatalf("a store without a version check passed the check (err %v)", err)
	}
	fs, err := election.NewFileStore(filepath.Join(t.TempDir(), "l"))
	if err != nil {
		t.Fatal(err)
	}
	if err := electiontest.CheckStore(ctx, noVersionCheck{fs}); err == nil {
		t.Fatal("a file store without a version check passed the check")
	}
}
