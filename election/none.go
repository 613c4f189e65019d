package election

import (
	"context"
	"sync"
)

// noneBackend always grants the lease: for when another cluster manager
// (Pacemaker, LifeKeeper) decides which node runs lbhc. Each grant after a
// release or fence gets the next term.
type noneBackend struct {
	id   string
	mu   sync.Mutex
	term uint64
}

// NewNoneBackend returns the always-leader backend.
func NewNoneBackend(nodeID string) Backend { return &noneBackend{id: nodeID} }

func (b *noneBackend) TryAcquire(ctx context.Context, renew bool) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !renew {
		b.term++
	}
	return State{Held: true, Term: b.term, Leader: b.id}, nil
}

func (b *noneBackend) Release(context.Context) error { return nil }
func (b *noneBackend) Close() error                  { return nil }
