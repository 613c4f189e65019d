//go:build linux

package e2e

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// vipRound is one sample of a VIP test: who holds the VIP and which page a
// client fetching through it got ("" on an error).
type vipRound struct {
	at     time.Time
	owners []string
	page   string
}

// vipSampler samples the VIP's owners and a client's page every 20 ms, for
// at most max rounds (bounded traffic inside the test's namespaces), until
// Stop (also called at cleanup).
type vipSampler struct {
	mu     sync.Mutex
	rounds []vipRound
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func startVIPSampler(t *testing.T, watch *vipWatch, client *http.Client, url string, max int) *vipSampler {
	s := &vipSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for range max {
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			r := vipRound{at: time.Now(), owners: watch.owners(), page: fetch(client, url)}
			s.mu.Lock()
			s.rounds = append(s.rounds, r)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

// Stop ends sampling and waits for the sampler; safe to call again.
func (s *vipSampler) Stop() { s.once.Do(func() { close(s.stop); <-s.done }) }

// Last is the newest round (zero before the first).
func (s *vipSampler) Last() vipRound {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rounds) == 0 {
		return vipRound{}
	}
	return s.rounds[len(s.rounds)-1]
}

// Rounds is a copy of every round so far.
func (s *vipSampler) Rounds() []vipRound {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]vipRound(nil), s.rounds...)
}
