// The peer side of failsafe: the promises this node gave to a leader that
// could not reach the backend. While one is live the engine does not
// acquire (Options.Promises), and the promises survive a restart in
// <state-dir>/<lease-name>.promise.

package election

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// promiseFileMax bounds what OpenPromiseBook reads (bytes): one line per
// leader the node promised to, and only a few peers exist.
const promiseFileMax = 16 << 10

// PromiseFilePath is where the promises for lease leaseName are kept.
func PromiseFilePath(stateDir, leaseName string) string {
	return filepath.Join(stateDir, leaseName+".promise")
}

// PromiseBook holds the live promises this node gave, one per leader.
// Ends are kept on the engine's monotonic clock; the file holds wall-clock
// ends plus the maximum skew, so a restarted node (whose monotonic clock
// starts anew) still waits at least as long, even across a wall-clock step
// of up to the skew.
type PromiseBook struct {
	path  string // "" = not persisted (tests, no --state-dir)
	clock Clock
	wall  func() time.Time // wall clock, for the file only
	skew  time.Duration

	mu    sync.Mutex
	given map[string]promise // leader id -> promise
}

type promise struct {
	term  uint64
	until time.Time // on clock
}

// OpenPromiseBook loads the promises still live in path ("" = keep them in
// memory only). wall is the wall clock (nil = time.Now with its monotonic
// reading stripped); skew is the peers' maximum clock skew. A file that
// cannot be parsed is an error naming it: ignoring it could break a
// promise.
func OpenPromiseBook(path string, clock Clock, wall func() time.Time, skew time.Duration) (*PromiseBook, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	if wall == nil {
		wall = func() time.Time { return time.Now().Round(0) }
	}
	b := &PromiseBook{path: path, clock: clock, wall: wall, skew: skew, given: map[string]promise{}}
	if path == "" {
		return b, nil
	}
	raw, err := readSmallFile(path, promiseFileMax)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return b, nil
	case err != nil:
		return nil, fmt.Errorf("promise file: %w", err)
	}
	now, wnow := clock.Now(), wall()
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		// "term wall-end-unix-ns leader": the node id goes last, as it
		// may hold spaces.
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("promise file %s: line %q is not 'term wall-end-unix-ns leader' (fix or remove it after lease-ttl + the promise time)", path, line)
		}
		term, err1 := strconv.ParseUint(f[0], 10, 64)
		endNs, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("promise file %s: line %q does not hold numbers", path, line)
		}
		// The saved end already carries the skew.
		if left := time.Unix(0, endNs).Sub(wnow); left > 0 {
			b.given[f[2]] = promise{term: term, until: now.Add(left)}
		}
	}
	return b, nil
}

// Give records a promise to leader for term lasting d from now, and saves
// it before it returns: the grant must not be sent unless it is on disk.
// A promise never shortens one already given to the same leader.
func (b *PromiseBook) Give(leader string, term uint64, d time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	until := b.clock.Now().Add(d)
	if old, ok := b.given[leader]; ok && old.until.After(until) {
		until = old.until
		term = max(term, old.term)
	}
	prev, had := b.given[leader]
	b.given[leader] = promise{term: term, until: until}
	if err := b.saveLocked(); err != nil {
		if had {
			b.given[leader] = prev
		} else {
			delete(b.given, leader)
		}
		return err
	}
	return nil
}

// Void drops the promise given to leader for a term up to term: that
// leader has stepped down (it says so in a handover), so nothing it
// believes depends on the promise any more. Promises to others stay.
func (b *PromiseBook) Void(leader string, term uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.given[leader]; ok && p.term <= term {
		delete(b.given, leader)
		_ = b.saveLocked() // a stale line only makes a restart wait longer
	}
}

// Until is the end of the longest live promise on the engine's clock; zero
// when none is live.
func (b *PromiseBook) Until() time.Time {
	if b == nil {
		return time.Time{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	var u time.Time
	for id, p := range b.given {
		if !p.until.After(now) {
			delete(b.given, id)
			continue
		}
		if p.until.After(u) {
			u = p.until
		}
	}
	return u
}

// Blocked reports whether a promise forbids acquiring now.
func (b *PromiseBook) Blocked() bool { return !b.Until().IsZero() }

// PromiseInfo is one live promise, for /status.
type PromiseInfo struct {
	Leader string
	Term   uint64
	Left   time.Duration
}

// Live lists the live promises, sorted by leader.
func (b *PromiseBook) Live() []PromiseInfo {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	var out []PromiseInfo
	for id, p := range b.given {
		if left := p.until.Sub(now); left > 0 {
			out = append(out, PromiseInfo{Leader: id, Term: p.term, Left: left})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Leader < out[j].Leader })
	return out
}

// saveLocked writes every live promise as "term wall-end+skew leader".
func (b *PromiseBook) saveLocked() error {
	if b.path == "" {
		return nil
	}
	now, wnow := b.clock.Now(), b.wall()
	var sb strings.Builder
	ids := make([]string, 0, len(b.given))
	for id := range b.given {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := b.given[id]
		left := p.until.Sub(now)
		if left <= 0 {
			continue
		}
		fmt.Fprintf(&sb, "%d %d %s\n", p.term, wnow.Add(left+b.skew).UnixNano(), id)
	}
	if err := writeFileAtomic(b.path, []byte(sb.String())); err != nil {
		return fmt.Errorf("save failsafe promise: %w", err)
	}
	return nil
}
