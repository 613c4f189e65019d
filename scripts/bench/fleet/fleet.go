// Package fleet simulates many lbhc groups in one process (election
// engines only: no probe, no VIP) against one emulator, to find how many
// groups one DynamoDB table, storage account or etcd cluster carries
// (scripts/bench/fleet.sh, BENCHMARKS.md). It is not part of the product.
package fleet

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/lbhc/lbhc/election"
)

// Latencies collects the durations of lease renewals.
type Latencies struct {
	mu     sync.Mutex
	d      []time.Duration
	failed int
}

func (l *Latencies) add(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		return
	}
	l.d = append(l.d, d)
}

// Reset drops what was collected so far.
func (l *Latencies) Reset() {
	l.mu.Lock()
	l.d, l.failed = nil, 0
	l.mu.Unlock()
}

// Summary returns the count, failures and the 50th and 99th percentiles.
func (l *Latencies) Summary() (n, failed int, p50, p99 time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := slices.Clone(l.d)
	slices.Sort(d)
	return len(d), l.failed, Quantile(d, 0.50), Quantile(d, 0.99)
}

// Quantile of sorted durations (nearest rank); 0 when empty.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// timed measures renewals (TryAcquire with renew=true) of a backend.
type timed struct {
	election.Backend
	lat *Latencies
}

func (t timed) TryAcquire(ctx context.Context, renew bool) (election.State, error) {
	start := time.Now()
	st, err := t.Backend.TryAcquire(ctx, renew)
	if renew {
		t.lat.add(time.Since(start), err)
	}
	return st, err
}

// timedWaker keeps the push notifications (etcd watch) of the backend.
type timedWaker struct {
	timed
	w election.Waker
}

func (t timedWaker) Changes() <-chan struct{} { return t.w.Changes() }

// Timed wraps b so its renewals are measured in lat, keeping its Waker.
func Timed(b election.Backend, lat *Latencies) election.Backend {
	t := timed{b, lat}
	if w, ok := b.(election.Waker); ok {
		return timedWaker{t, w}
	}
	return t
}
