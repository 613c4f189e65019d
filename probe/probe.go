// Package probe answers the load balancer's health probe, and only while
// this node leads. A protocol is a small function that serves one accepted
// connection; protocols maps its name to it (tcp.go, http.go).
package probe

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/configerr"
)

// serveFunc answers one probe connection. leading is the leadership check
// made when the connection was accepted; the function must not block longer
// than the connection's deadline (already set by the server).
type serveFunc func(c net.Conn, leading bool, cfg *Config) error

var protocols = map[string]serveFunc{
	"tcp":  serveTCP,
	"http": serveHTTP,
}

// Standby modes: what a follower's probe port does.
const (
	StandbyClosed = "closed" // no listener: the LB sees connection refused
	Standby503    = "503"    // http only: the listener stays and answers 503
)

// Config is the probe responder's configuration.
type Config struct {
	Protocol string        // "tcp" or "http"
	Ports    []int         // one or more ports, e.g. one for an ILB and one for a global LB
	Address  string        // bind address; "" = all addresses
	Message  string        // tcp: written then closed; http: the 200 body
	Standby  string        // StandbyClosed or Standby503
	NodeID   string        // reported in the X-Lbhc-Node header of HTTP answers
	MaxConns int           // concurrent connections; the oldest is dropped when full
	Timeout  time.Duration // read+write deadline of one probe connection
	// Backlog is the listen backlog on Linux; 0 chooses: 128 when the
	// kernel fence is loaded, else 4. Without the fence, a frozen process's
	// kernel still completes up to about Backlog+1 TCP handshakes on its
	// own, so it is kept small.
	Backlog int
	// NoKernelFence disables the eBPF socket filter that drops probe
	// packets in the kernel once the leadership deadline has passed.
	NoKernelFence bool
	// Allow lists the sources that may connect (--probe-allow); empty =
	// any. The kernel fence drops other sources' packets; without it they
	// are reset right after accept.
	Allow []netip.Prefix
}

// deadlineFence enforces the leadership deadline below the process (the
// eBPF socket filter on Linux, fence_linux.go).
type deadlineFence interface {
	set(deadline time.Time) error
	close()
}

// ConfigError is invalid probe configuration (exit 2): lbhc's one
// configuration error type.
type ConfigError = configerr.Error

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Protocol == "" {
		c.Protocol = "tcp"
	}
	if _, ok := protocols[c.Protocol]; !ok {
		names := make([]string, 0, len(protocols))
		for n := range protocols {
			names = append(names, n)
		}
		slices.Sort(names)
		return &ConfigError{Flag: "probe-protocol", Msg: fmt.Sprintf("unknown protocol %q (want one of %v)", c.Protocol, names)}
	}
	if len(c.Ports) == 0 {
		return &ConfigError{Flag: "probe-port", Msg: "at least one port is required"}
	}
	seen := map[int]bool{}
	for _, p := range c.Ports {
		if p < 1 || p > 65535 {
			return &ConfigError{Flag: "probe-port", Msg: fmt.Sprintf("%d is out of range 1-65535", p)}
		}
		if seen[p] {
			return &ConfigError{Flag: "probe-port", Msg: fmt.Sprintf("%d given twice", p)}
		}
		seen[p] = true
	}
	if c.Address != "" {
		if _, err := netip.ParseAddr(c.Address); err != nil {
			return &ConfigError{Flag: "probe-address", Msg: fmt.Sprintf("%q is not an IP address", c.Address)}
		}
	}
	switch c.Standby {
	case "":
		c.Standby = StandbyClosed
	case StandbyClosed:
	case Standby503:
		if c.Protocol != "http" {
			return &ConfigError{Flag: "probe-standby", Msg: "503 needs --probe-protocol http"}
		}
	default:
		return &ConfigError{Flag: "probe-standby", Msg: fmt.Sprintf("unknown mode %q (want closed or 503)", c.Standby)}
	}
	if c.MaxConns == 0 {
		c.MaxConns = 128
	}
	if c.MaxConns < 1 {
		return &ConfigError{Flag: "probe-max-conns", Msg: fmt.Sprintf("must be at least 1, got %d", c.MaxConns)}
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Timeout < 0 {
		return &ConfigError{Flag: "probe-timeout", Msg: fmt.Sprintf("must be positive, got %s", c.Timeout)}
	}
	if c.Backlog < 0 {
		return &ConfigError{Flag: "probe-backlog", Msg: fmt.Sprintf("must be positive, got %d", c.Backlog)}
	}
	return nil
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

// startFence sets the kernel fence to the current deadline before the
// listener opens; DeadlineMoved keeps it in step with renewals.
func (s *Server) startFence(deadline func() time.Time) error {
	if deadline == nil {
		far := time.Now().Add(100 * 365 * 24 * time.Hour)
		deadline = func() time.Time { return far }
	}
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	if err := s.fence.set(deadline()); err != nil {
		s.fenceDeadline = nil
		return fmt.Errorf("kernel fence: %w", err)
	}
	s.fenceDeadline = deadline
	return nil
}

// DeadlineMoved copies Lead's deadline into the kernel fence. The lease
// calls it when a renewal moves the deadline (election.Lease.OnExtend), so
// an idle leader wakes for the fence only when a renewal lands, not on a
// timer. A late or missed call only ends the kernel's acceptance earlier,
// never later. It does nothing when not leading or without the fence.
func (s *Server) DeadlineMoved() {
	if s.fence == nil {
		return
	}
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	if s.fenceDeadline == nil {
		return
	}
	if err := s.fence.set(s.fenceDeadline()); err != nil {
		s.log.Warn("kernel fence update failed", "err", err)
	}
}

// stopFence closes the fence: from now on the kernel drops probe packets.
func (s *Server) stopFence() {
	if s.fence == nil {
		return
	}
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	s.fenceDeadline = nil
	if err := s.fence.set(time.Time{}); err != nil {
		s.log.Warn("kernel fence close failed", "err", err)
	}
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
	s.Close()
}

// Close closes listeners and connections and waits for accept loops.
func (s *Server) Close() {
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
