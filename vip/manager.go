package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// platform is what the manager needs from the operating system. The
// implementations are in vip_linux.go and vip_windows.go.
type platform interface {
	links() ([]link, error)
	// addrs lists the unicast addresses of every interface.
	addrs() ([]hostAddr, error)
	// add adds p to l, marked as lbhc's and never used as a source address.
	add(l link, p netip.Prefix) error
	// del removes an address that addrs reported with Ours set.
	del(a hostAddr) error
	// canManage reports (as an error) a missing privilege: managing
	// addresses, and sending raw frames when announce is set.
	canManage(announce bool) error
	// announce sends one round of gratuitous ARP / unsolicited neighbour
	// advertisements for p on l and returns the number of frames sent.
	announce(l link, p netip.Prefix) (int, error)
	close() error
}

// Manager adds and removes the VIPs. Its methods are safe for concurrent use.
type Manager struct {
	cfg        Config
	log        *slog.Logger
	sys        platform
	m          *metrics
	matchIndex bool // interface may be given by index (Windows)
	foldCase   bool // interface names compare case-insensitively (Windows)

	mu      sync.Mutex
	want    bool                  // leading: the VIPs should be present
	present map[netip.Prefix]bool // last observation
	stopAnn context.CancelFunc    // stops the background announcement rounds
	annDone chan struct{}         // closed when they have stopped
}

// New validates cfg and prepares a manager. It does not touch the
// addresses; call Preflight and Cleanup at start-up.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	cfg, err := cfg.validate(defaultLoopback)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "vip")
	sys, err := newPlatform(cfg.Mode == ModeNIC && cfg.GARPCount > 0, log)
	if err != nil {
		return nil, fmt.Errorf("vip: %w", err)
	}
	return newManager(cfg, log, reg, sys)
}

func newManager(cfg Config, log *slog.Logger, reg prometheus.Registerer, sys platform) (*Manager, error) {
	m, err := newMetrics(reg)
	if err != nil {
		_ = sys.close()
		return nil, fmt.Errorf("vip: registering metrics: %w", err)
	}
	mgr := &Manager{cfg: cfg, log: log, sys: sys, m: m, present: map[netip.Prefix]bool{},
		matchIndex: interfaceByIndex, foldCase: interfaceFoldCase}
	for _, p := range cfg.Addrs {
		m.present.WithLabelValues(p.String()).Set(0)
	}
	return mgr, nil
}

func (m *Manager) announces() bool { return m.cfg.Mode == ModeNIC && m.cfg.GARPCount > 0 }

// Preflight checks, before campaigning, that this node can own the VIPs:
// the interface exists (else a ConfigError naming --vip-interface), the
// process may manage addresses, and no VIP is already one of the host's own
// addresses (else a ConfigError naming --vip).
func (m *Manager) Preflight(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	links, err := m.sys.links()
	if err != nil {
		return fmt.Errorf("vip: listing interfaces: %w", err)
	}
	if _, err := findLink(links, m.cfg.Interface, m.matchIndex, m.foldCase); err != nil {
		return err
	}
	if err := m.sys.canManage(m.announces()); err != nil {
		return fmt.Errorf("vip: cannot manage addresses: %w", err)
	}
	addrs, err := m.sys.addrs()
	if err != nil {
		return fmt.Errorf("vip: listing addresses: %w", err)
	}
	return foreignConflict(m.cfg.Addrs, addrs)
}

// foreignConflict returns a ConfigError for the first VIP that is an address
// of the host that lbhc did not add.
func foreignConflict(vips []netip.Prefix, addrs []hostAddr) error {
	for _, p := range vips {
		for _, a := range addrs {
			if a.Prefix.Addr() == p.Addr() && !a.Ours {
				return configErr("vip", "%s is already an address of this host (%s on %s, not added by lbhc)",
					p.Addr(), a.Prefix, a.LinkName)
			}
		}
	}
	return nil
}

// Cleanup removes the VIPs that an earlier run of lbhc left behind (it
// crashed or was killed while leading). Only addresses carrying lbhc's mark
// and equal to one of this instance's VIPs are removed; lbhc-marked
// addresses of other VIPs (another lbhc instance on the host, or an older
// configuration) are logged and left alone.
func (m *Manager) Cleanup(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.want = false
	m.stopAnnouncing()
	addrs, err := m.sys.addrs()
	if err != nil {
		m.m.errors.WithLabelValues("cleanup").Inc()
		return fmt.Errorf("vip: listing addresses: %w", err)
	}
	var errs []error
	for _, a := range addrs {
		if !a.Ours {
			continue
		}
		if !m.isVIP(a.Prefix.Addr()) {
			m.log.Warn("leaving lbhc-marked address that is not one of this instance's VIPs",
				"addr", a.Prefix.String(), "interface", a.LinkName)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.sys.del(a); err != nil {
			errs = append(errs, fmt.Errorf("vip: removing stale %s from %s: %w", a.Prefix, a.LinkName, err))
			continue
		}
		m.m.staleRemoved.Inc()
		m.log.Warn("removed stale VIP left by an earlier run", "addr", a.Prefix.String(), "interface", a.LinkName)
	}
	m.observe(addrs, errs == nil)
	if err := errors.Join(errs...); err != nil {
		m.m.errors.WithLabelValues("cleanup").Inc()
		return err
	}
	return nil
}

func (m *Manager) isVIP(a netip.Addr) bool {
	for _, p := range m.cfg.Addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// Status lists the VIPs and whether they were present at the last add,
// remove, reconcile or cleanup.
func (m *Manager) Status() []AddrStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]AddrStatus, 0, len(m.cfg.Addrs))
	for _, p := range m.cfg.Addrs {
		out = append(out, AddrStatus{Addr: p.String(), Present: m.present[p], Interface: m.cfg.Interface})
	}
	return out
}

// Close stops the announcements and releases the manager's sockets. It does
// not remove the VIPs.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopAnnouncing()
	return m.sys.close()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
