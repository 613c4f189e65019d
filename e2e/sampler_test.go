//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sample is one sampling round: which nodes answered the probe.
type Sample struct {
	At       time.Time
	Answered []string // node names (from the probe message), sorted
}

// Sampler probes every node's probe port every Interval, from the hub
// namespace, and records who answered. An answer is the node's full probe
// message followed by the server closing the connection: a handshake the
// kernel completes for a frozen process is not an answer.
type Sampler struct {
	Interval time.Duration
	mu       sync.Mutex
	samples  []Sample
	stop     chan struct{}
	done     chan struct{}
}

// StartSampler samples hosts' port until the test ends or Stop is called.
// Rounds are bounded: at most limit of them.
func StartSampler(t *testing.T, n *Net, port int, hosts []*Host, interval time.Duration, limit int) *Sampler {
	return startSampler(t, n, port, hosts, interval, limit, false)
}

// StartHandshakeSampler counts a completed TCP handshake as an answer, as
// an Azure LB or NLB TCP probe does: it sees what a frozen process's kernel
// would still do on its behalf.
func StartHandshakeSampler(t *testing.T, n *Net, port int, hosts []*Host, interval time.Duration, limit int) *Sampler {
	return startSampler(t, n, port, hosts, interval, limit, true)
}

func startSampler(t *testing.T, n *Net, port int, hosts []*Host, interval time.Duration, limit int, handshake bool) *Sampler {
	dial := dialer(t, n.Hub)
	s := &Sampler{Interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; i < limit; i++ {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			var got []string
			at := time.Now()
			for _, h := range hosts {
				wg.Add(1)
				go func(h *Host) {
					defer wg.Done()
					addr := net.JoinHostPort(h.IP, fmt.Sprint(port))
					if handshake {
						if c, err := dial(addr, interval); err == nil {
							c.Close()
							mu.Lock()
							got = append(got, h.Name)
							mu.Unlock()
						}
						return
					}
					if who := probeOnce(dial, addr, interval); who != "" {
						mu.Lock()
						got = append(got, who)
						mu.Unlock()
					}
				}(h)
			}
			wg.Wait()
			sort.Strings(got)
			s.mu.Lock()
			s.samples = append(s.samples, Sample{At: at, Answered: got})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

// probeOnce returns the answering node's name, or "".
func probeOnce(dial func(string, time.Duration) (net.Conn, error), addr string, timeout time.Duration) string {
	c, err := dial(addr, timeout)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(io.LimitReader(c, 256))
	if err != nil {
		return ""
	}
	who, ok := strings.CutPrefix(string(b), "node=")
	if !ok {
		return ""
	}
	return who
}

// Stop ends sampling.
func (s *Sampler) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// Samples returns a copy of what was recorded.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// DoubleAnswers returns the rounds in which more than one node answered.
func (s *Sampler) DoubleAnswers() []Sample {
	var out []Sample
	for _, x := range s.Samples() {
		if len(x.Answered) > 1 {
			out = append(out, x)
		}
	}
	return out
}

// FirstAnswerBy returns when a node other than exclude first answered at or
// after since, and who.
func (s *Sampler) FirstAnswerBy(since time.Time, exclude string) (time.Time, string, bool) {
	for _, x := range s.Samples() {
		if x.At.Before(since) {
			continue
		}
		for _, who := range x.Answered {
			if who != exclude {
				return x.At, who, true
			}
		}
	}
	return time.Time{}, "", false
}

// Current returns the answering nodes of the latest round.
func (s *Sampler) Current() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return nil
	}
	return s.samples[len(s.samples)-1].Answered
}

// WaitSingle waits until exactly one node answers and returns it.
func (s *Sampler) WaitSingle(t *testing.T, d time.Duration) string {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if c := s.Current(); len(c) == 1 {
			return c[0]
		}
		time.Sleep(s.Interval)
	}
	t.Fatalf("no single node answered within %s (last round: %v)", d, s.Current())
	return ""
}

// Timeline renders the transitions, for failure messages and BENCHMARKS.
func (s *Sampler) Timeline() string {
	var b strings.Builder
	var last string
	samples := s.Samples()
	if len(samples) == 0 {
		return "(no samples)"
	}
	t0 := samples[0].At
	for _, x := range samples {
		cur := strings.Join(x.Answered, "+")
		if cur == "" {
			cur = "-"
		}
		if cur != last {
			fmt.Fprintf(&b, "%8.3fs %s\n", x.At.Sub(t0).Seconds(), cur)
			last = cur
		}
	}
	return b.String()
}
