package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

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

// Add makes every VIP present on the interface (idempotent) and sends the
// first announcement round; the remaining GARPCount-1 rounds follow in the
// background, GARPInterval apart, until done or Remove is called.
func (m *Manager) Add(ctx context.Context) error {
	start := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.want = true
	m.stopAnnouncing()
	l, _, err := m.ensure(ctx, false)
	if err != nil {
		m.m.errors.WithLabelValues("add").Inc()
		return err
	}
	m.log.Info("VIPs added", "vips", m.cfg.Addrs, "interface", l.Name, "took", time.Since(start))
	m.startAnnouncing(l)
	m.m.duration.WithLabelValues("add").Observe(time.Since(start).Seconds())
	return nil
}

// ensure adds the VIPs that are missing from the interface. It returns the
// link and how many VIPs it had to add. A VIP held by an address lbhc did
// not add is an error: it is neither adopted nor removed.
func (m *Manager) ensure(ctx context.Context, repairing bool) (link, int, error) {
	links, err := m.sys.links()
	if err != nil {
		return link{}, 0, fmt.Errorf("vip: listing interfaces: %w", err)
	}
	l, err := findLink(links, m.cfg.Interface, m.matchIndex, m.foldCase)
	if err != nil {
		return link{}, 0, err
	}
	addrs, err := m.sys.addrs()
	if err != nil {
		return l, 0, fmt.Errorf("vip: listing addresses: %w", err)
	}
	plan := planAdd(m.cfg.Addrs, l, addrs)
	var errs []error
	for _, f := range plan.foreign {
		errs = append(errs, fmt.Errorf("vip: %s is present on %s but was not added by lbhc; refusing to adopt it", f.Prefix, f.LinkName))
		for _, p := range m.cfg.Addrs {
			if p.Addr() == f.Prefix.Addr() {
				m.present[p] = false
				m.m.present.WithLabelValues(p.String()).Set(0)
			}
		}
	}
	for _, a := range plan.del {
		if err := m.sys.del(a); err != nil {
			errs = append(errs, fmt.Errorf("vip: moving %s off %s: %w", a.Prefix, a.LinkName, err))
		}
	}
	added := 0
	for _, p := range plan.add {
		if err := ctx.Err(); err != nil {
			return l, added, errors.Join(append(errs, err)...)
		}
		if err := m.sys.add(l, p); err != nil {
			m.present[p] = false
			m.m.present.WithLabelValues(p.String()).Set(0)
			errs = append(errs, fmt.Errorf("vip: adding %s to %s: %w", p, l.Name, err))
			continue
		}
		added++
		m.present[p] = true
		m.m.present.WithLabelValues(p.String()).Set(1)
		if repairing {
			m.m.repairs.Inc()
			m.log.Warn("VIP was missing while leading; re-added", "addr", p.String(), "interface", l.Name)
		}
	}
	for _, p := range plan.ok {
		m.present[p] = true
		m.m.present.WithLabelValues(p.String()).Set(1)
	}
	return l, added, errors.Join(errs...)
}

type addPlan struct {
	ok      []netip.Prefix // present, lbhc's, on the right link with the right length
	add     []netip.Prefix // to add
	del     []hostAddr     // lbhc's copy on another link or with another length
	foreign []hostAddr     // held by an address lbhc did not add
}

// planAdd decides, for each VIP, what Add has to do.
func planAdd(vips []netip.Prefix, l link, addrs []hostAddr) addPlan {
	var plan addPlan
	for _, p := range vips {
		state := "missing"
		for _, a := range addrs {
			if a.Prefix.Addr() != p.Addr() {
				continue
			}
			switch {
			case !a.Ours:
				plan.foreign = append(plan.foreign, a)
				state = "foreign"
			case a.LinkIndex == l.Index && a.Prefix == p:
				if state == "missing" {
					state = "ok"
				}
			default:
				plan.del = append(plan.del, a)
			}
		}
		switch state {
		case "ok":
			plan.ok = append(plan.ok, p)
		case "missing":
			plan.add = append(plan.add, p)
		}
	}
	return plan
}

// Remove deletes lbhc's VIPs (on any interface) and stops announcing them.
// Addresses lbhc did not add are left alone.
func (m *Manager) Remove(ctx context.Context) error {
	start := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.want = false
	m.stopAnnouncing()
	n, err := m.removeOurs(ctx, false)
	if err != nil {
		m.m.errors.WithLabelValues("remove").Inc()
		return err
	}
	m.log.Info("VIPs removed", "removed", n, "took", time.Since(start))
	m.m.duration.WithLabelValues("remove").Observe(time.Since(start).Seconds())
	return nil
}

func (m *Manager) removeOurs(ctx context.Context, repairing bool) (int, error) {
	addrs, err := m.sys.addrs()
	if err != nil {
		return 0, fmt.Errorf("vip: listing addresses: %w", err)
	}
	var errs []error
	n := 0
	for _, a := range addrs {
		if !a.Ours || !m.isVIP(a.Prefix.Addr()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		if err := m.sys.del(a); err != nil {
			errs = append(errs, fmt.Errorf("vip: removing %s from %s: %w", a.Prefix, a.LinkName, err))
			continue
		}
		n++
		if repairing {
			m.m.repairs.Inc()
			m.log.Warn("VIP was present while not leading; removed", "addr", a.Prefix.String(), "interface", a.LinkName)
		}
	}
	m.observe(addrs, len(errs) == 0)
	return n, errors.Join(errs...)
}

// observe records the VIPs as absent after a successful removal pass, or as
// listed in addrs otherwise.
func (m *Manager) observe(addrs []hostAddr, allRemoved bool) {
	for _, p := range m.cfg.Addrs {
		have := false
		if !allRemoved {
			for _, a := range addrs {
				if a.Ours && a.Prefix.Addr() == p.Addr() {
					have = true
				}
			}
		}
		m.present[p] = have
		m.m.present.WithLabelValues(p.String()).Set(b2f(have))
	}
}

// Reconcile makes the addresses match the role: while leading (after Add),
// VIPs someone removed are re-added and announced again; otherwise lbhc's
// VIPs that are still present are removed. It returns how many VIPs it
// repaired (also counted in lbhc_vip_repairs_total).
func (m *Manager) Reconcile(ctx context.Context) (int, error) {
	start := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int
	var err error
	if m.want {
		var l link
		l, n, err = m.ensure(ctx, true)
		if n > 0 && err == nil {
			m.stopAnnouncing()
			m.startAnnouncing(l)
		}
	} else {
		n, err = m.removeOurs(ctx, true)
	}
	m.m.duration.WithLabelValues("reconcile").Observe(time.Since(start).Seconds())
	if err != nil {
		m.m.errors.WithLabelValues("reconcile").Inc()
	}
	return n, err
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

// startAnnouncing sends the first round now and the others in the
// background. Called with mu held.
func (m *Manager) startAnnouncing(l link) {
	if !m.announces() {
		return
	}
	m.announceRound(l)
	if m.cfg.GARPCount < 2 && m.cfg.GARPRefresh <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	m.stopAnn, m.annDone = cancel, done
	go func() {
		defer close(done)
		m.announceLater(ctx, l)
	}()
}

// stopAnnouncing cancels the background rounds and waits for them, so that
// nothing is announced after Remove returns. Called with mu held.
func (m *Manager) stopAnnouncing() {
	if m.stopAnn == nil {
		return
	}
	m.stopAnn()
	<-m.annDone
	m.stopAnn, m.annDone = nil, nil
}

func (m *Manager) announceRound(l link) {
	for _, p := range m.cfg.Addrs {
		n, err := m.sys.announce(l, p)
		m.m.announcements.Add(float64(n))
		if err != nil {
			// Announcing is best effort: cloud networks ignore it and the
			// VIP is usable without it on a network that learns by traffic.
			m.m.announceErrs.Inc()
			m.log.Warn("announcing VIP failed", "addr", p.String(), "interface", l.Name, "err", err)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
