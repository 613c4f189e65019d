package election_test

import (
	"context"
	"path/filepath"
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
	})
}
