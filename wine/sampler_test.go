//go:build linux && wine

package wine

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// answers reports whether the probe port accepts a TCP connection now.
func answers(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// sampler connects to every probe port every 20 ms until stopped and
// records the instants at which more than one answered and, per port, the
// first answer after a mark.
type sampler struct {
	ports []int
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	samples int
	both    []time.Time
	first   map[int]time.Time // first answer at or after since
	since   time.Time
}

func startSampler(ports ...int) *sampler {
	s := &sampler{ports: ports, stop: make(chan struct{}), done: make(chan struct{}), first: map[int]time.Time{}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			now := time.Now()
			n := 0
			s.mu.Lock()
			for _, p := range s.ports {
				if answers(p) {
					n++
					if _, seen := s.first[p]; !seen && !s.since.IsZero() {
						s.first[p] = now
					}
				}
			}
			s.samples++
			if n > 1 {
				s.both = append(s.both, now)
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// mark forgets the first answers and records new ones from now on.
func (s *sampler) mark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.since = time.Now()
	s.first = map[int]time.Time{}
}

func (s *sampler) firstAnswer(port int) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.first[port]
	return t, ok
}

func (s *sampler) finish() (samples int, both []time.Time) {
	close(s.stop)
	<-s.done
	return s.samples, s.both
}
