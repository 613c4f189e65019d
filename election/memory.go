package election

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// MemoryStore is an in-process Store for tests and for the conformance
// suite's reference run. Fault lets a test fail or delay operations.
type MemoryStore struct {
	mu      sync.Mutex
	rec     Record
	version uint64 // 0 = no record
	roster  map[string]Announcement

	// Fault, when set, is called before every operation ("get", "create",
	// "update"); a non-nil error is returned instead of performing it.
	Fault func(ctx context.Context, op string) error
}

// NewMemoryStore returns an empty store. An empty store is not free at
// once: a node waits a lease TTL first, as after a deleted record.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// NewReleasedMemoryStore returns a store holding a released record of term
// 0, a group whose lease nobody holds: the first node takes it at once.
func NewReleasedMemoryStore() *MemoryStore {
	return &MemoryStore{rec: Record{TTL: time.Millisecond}, version: 1}
}

// Delete removes the record, as an operator or a storage policy would.
func (s *MemoryStore) Delete() {
	s.mu.Lock()
	s.rec, s.version = Record{}, 0
	s.mu.Unlock()
}

func (s *MemoryStore) fault(ctx context.Context, op string) error {
	s.mu.Lock()
	f := s.Fault
	s.mu.Unlock()
	if f != nil {
		if err := f(ctx, op); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// SetFault replaces the fault function (nil clears it).
func (s *MemoryStore) SetFault(f func(ctx context.Context, op string) error) {
	s.mu.Lock()
	s.Fault = f
	s.mu.Unlock()
}

func (s *MemoryStore) Get(ctx context.Context) (Record, string, error) {
	if err := s.fault(ctx, "get"); err != nil {
		return Record{}, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version == 0 {
		return Record{}, "", ErrNotFound
	}
	return s.rec, strconv.FormatUint(s.version, 10), nil
}

func (s *MemoryStore) Create(ctx context.Context, rec Record) (string, error) {
	if err := s.fault(ctx, "create"); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != 0 {
		return "", fmt.Errorf("create: %w", ErrConflict)
	}
	s.rec, s.version = rec, 1
	return "1", nil
}

func (s *MemoryStore) Update(ctx context.Context, rec Record, prev string) (string, error) {
	if err := s.fault(ctx, "update"); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version == 0 || strconv.FormatUint(s.version, 10) != prev {
		return "", fmt.Errorf("update: %w", ErrConflict)
	}
	s.version++
	s.rec = rec
	return strconv.FormatUint(s.version, 10), nil
}

// Snapshot returns the current record and whether one exists.
func (s *MemoryStore) Snapshot() (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec, s.version != 0
}

// Announce and Members keep the roster (Roster). Fault does not apply to
// them, so a test's faults hit only the lease operations it names.
func (s *MemoryStore) Announce(ctx context.Context, a Announcement) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roster == nil {
		s.roster = map[string]Announcement{}
	}
	s.roster[a.Node] = a
	return nil
}

func (s *MemoryStore) Members(ctx context.Context) ([]Announcement, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Announcement, 0, len(s.roster))
	for _, a := range s.roster {
		out = append(out, a)
	}
	return out, nil
}

func (s *MemoryStore) Close() error { return nil }
