// The accept loop and the connections in flight: the leadership check on
// every accepted connection, the source filter, eviction when full.

package probe

import (
	"errors"
	"net"
	"time"
)

func (s *Server) acceptLoop(l net.Listener, port string) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("probe accept failed", "port", port, "err", err)
			time.Sleep(5 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		if !allowedSource(s.cfg.Allow, c.RemoteAddr()) {
			// Only without the kernel fence (or in 503 mode) does such a
			// connection get this far.
			s.answered.WithLabelValues(port, "filtered").Inc()
			abort(c)
			continue
		}
		s.conns.WithLabelValues(port).Inc()
		s.last.Store(max(int64(time.Since(s.start)), 1)) // 0 means none
		// The deadline is checked on every connection: a late timer or a
		// process that was paused never answers after the deadline.
		leading := s.leading()
		if !leading && s.cfg.Standby == StandbyClosed {
			s.answered.WithLabelValues(port, "refused").Inc()
			abort(c)
			continue
		}
		if !s.track(c, port) {
			abort(c)
			continue
		}
		go func() {
			defer s.untrack(c)
			_ = c.SetDeadline(time.Now().Add(s.cfg.Timeout))
			result := "healthy"
			if !leading {
				result = "standby"
			}
			if err := s.serve(c, leading, &s.cfg); err != nil {
				s.log.Debug("probe connection", "port", port, "err", err)
				return
			}
			s.answered.WithLabelValues(port, result).Inc()
		}()
	}
}

// track registers c, evicting the oldest connection when MaxConns are in
// flight: a flood of idle connections cannot starve a fresh probe. It
// returns false when the server is no longer listening.
func (s *Server) track(c net.Conn, port string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listeners == nil {
		return false
	}
	if len(s.inflight) >= s.cfg.MaxConns {
		var oldest net.Conn
		var at time.Time
		for oc, t := range s.inflight {
			if oldest == nil || t.Before(at) {
				oldest, at = oc, t
			}
		}
		delete(s.inflight, oldest)
		abort(oldest)
		s.answered.WithLabelValues(port, "evicted").Inc()
	}
	s.inflight[c] = time.Now()
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.inflight, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Server) dropInflight() {
	s.mu.Lock()
	old := s.inflight
	s.inflight = map[net.Conn]time.Time{}
	s.mu.Unlock()
	for c := range old {
		abort(c)
	}
}

// abort closes c with a reset rather than a FIN, so a prober that was
// accepted after leadership ended sees a failure, not an empty success.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
