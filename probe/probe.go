// Package probe answers the load balancer's health probe, and only while
// this node leads. A protocol is a small function that serves one accepted
// connection; protocols maps its name to it (tcp.go, http.go).
package probe

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serveFunc answers one probe connection. leading is the leadership check
// made when the connection was accepted; the function must not block longer
// than the connection's deadline (already set by the server).
type serveFunc func(c net.Conn, leading bool, cfg *Config) error

var protocols = map[string]serveFunc{
	"tcp":  serveTCP,
	"http": serveHTTP,
}

// Server owns the probe listeners. Lead opens them; Follow closes them and
// every connection in flight.
type Server struct {
	cfg   Config
	serve serveFunc
	log   *slog.Logger
	start time.Time

	conns    *prometheus.CounterVec
	answered *prometheus.CounterVec

	valid atomic.Pointer[func() bool]
	last  atomic.Int64  // ns after start of the last accepted probe; 0 = none
	fence deadlineFence // nil when unavailable or in 503 mode

	// fenceDeadline is Lead's deadline while leading with the kernel
	// fence, else nil; DeadlineMoved copies it into the fence. fenceMu
	// guards it and orders the fence updates (its own lock: renewals must
	// never wait for a listener to close).
	fenceMu       sync.Mutex
	fenceDeadline func() time.Time
	fenceClosed   bool // Close released the fence's descriptors

	mu        sync.Mutex
	listeners []net.Listener
	wg        sync.WaitGroup
	inflight  map[net.Conn]time.Time
}

// New validates cfg and registers the probe metrics.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, serve: protocols[cfg.Protocol], log: log, start: time.Now(),
		inflight: map[net.Conn]time.Time{},
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbhc_probe_connections_total",
			Help: "Probe connections accepted, by port.",
		}, []string{"port"}),
		answered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbhc_probe_answers_total",
			Help: "Probe connections answered, by port and result (healthy, standby, refused: accepted after leadership ended, evicted: dropped to make room, filtered: source not in --probe-allow).",
		}, []string{"port", "result"}),
	}
	if cfg.Standby == StandbyClosed && !cfg.NoKernelFence {
		f, err := loadFence(cfg.Allow)
		if err != nil {
			log.Info("kernel fence unavailable; a frozen process's kernel may complete a few probe handshakes (see --probe-backlog)", "err", err)
		} else {
			s.fence = f
		}
	}
	if s.cfg.Backlog == 0 {
		s.cfg.Backlog = 4
		if s.fence != nil {
			s.cfg.Backlog = 128
		}
	}
	if reg != nil {
		fenced := prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbhc_probe_kernel_fence",
			Help: "1 when the probe listener carries the eBPF filter that enforces the leadership deadline in the kernel.",
		})
		if s.fence != nil {
			fenced.Set(1)
		}
		if err := reg.Register(fenced); err != nil {
			return nil, fmt.Errorf("register probe metrics: %w", err)
		}
		for _, c := range []prometheus.Collector{s.conns, s.answered} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register probe metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Config returns the validated configuration.
func (s *Server) Config() Config { return s.cfg }

// KernelFence reports whether the eBPF deadline filter is in use.
func (s *Server) KernelFence() bool { return s.fence != nil }

// Lead starts answering as leader: valid is checked on every accepted
// connection (the self-fence deadline), the kernel fence follows deadline
// (nil: no deadline), and the listeners are opened if they are not open
// yet.
func (s *Server) Lead(valid func() bool, deadline func() time.Time) error {
	s.valid.Store(&valid)
	if s.fence != nil {
		if err := s.startFence(deadline); err != nil {
			s.valid.Store(nil)
			return err
		}
	}
	if err := s.open(); err != nil {
		s.valid.Store(nil)
		s.stopFence()
		return err
	}
	return nil
}

// Standby opens the listeners for a follower in 503 mode; in closed mode
// it does nothing.
func (s *Server) Standby() error {
	if s.cfg.Standby != Standby503 {
		return nil
	}
	return s.open()
}

// Follow stops answering as leader: connections in flight are closed at
// once and, in closed mode, the listeners too.
func (s *Server) Follow() {
	s.valid.Store(nil)
	s.stopFence()
	if s.cfg.Standby == Standby503 {
		s.dropInflight()
		return
	}
	s.closeListeners()
}

// Close ends the server for good: it closes listeners and connections,
// waits for the accept loops and releases the kernel fence's file
// descriptors. Lead fails after Close.
func (s *Server) Close() {
	s.valid.Store(nil)
	s.closeListeners()
	s.closeFence()
}

// closeListeners closes listeners and connections and waits for the accept
// loops; Lead or Standby may open them again.
func (s *Server) closeListeners() {
	s.mu.Lock()
	ls := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	s.dropInflight()
	s.wg.Wait()
}

// Listening reports whether the listeners are open.
func (s *Server) Listening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.listeners) > 0
}

// SinceLastProbe is the time since the last probe connection was accepted
// (since the server was created if none was).
func (s *Server) SinceLastProbe() time.Duration {
	return time.Since(s.start) - time.Duration(s.last.Load())
}

// Probed reports whether any probe connection was accepted since the
// server was created.
func (s *Server) Probed() bool { return s.last.Load() != 0 }

func (s *Server) leading() bool {
	f := s.valid.Load()
	return f != nil && (*f)()
}

func (s *Server) open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) > 0 {
		return nil
	}
	var ls []net.Listener
	for _, p := range s.cfg.Ports {
		addr := net.JoinHostPort(s.cfg.Address, strconv.Itoa(p))
		l, err := listen(addr, s.cfg.Backlog, s.fence)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return fmt.Errorf("open probe port %s: %w", addr, err)
		}
		ls = append(ls, l)
	}
	s.listeners = ls
	for i, l := range ls {
		s.wg.Add(1)
		go s.acceptLoop(l, strconv.Itoa(s.cfg.Ports[i]))
	}
	return nil
}
