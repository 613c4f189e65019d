// Package agent is lbhc's controller: it turns lease events into promote and
// demote sequences over the parts main built (probe responder, VIPs, cloud
// actions, health checks), serves the admin API and owns the metrics. It is
// the only package that wires the others together.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/check"
	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/vip"
)

// Roles as shown in /status and logs.
const (
	RoleLeader   = "leader"
	RoleFollower = "follower"
	RoleStandby  = "standby"
)

// Prober is the probe responder (probe.Server).
type Prober interface {
	Lead(valid func() bool, deadline func() time.Time) error
	DeadlineMoved() // a renewal moved Lead's deadline
	Standby() error
	Follow()
	Close()
	Listening() bool
	KernelFence() bool
	SinceLastProbe() time.Duration
	Probed() bool // any probe accepted yet
}

// Addresses owns the VIPs (vip.Manager).
type Addresses interface {
	Preflight(ctx context.Context) error
	Cleanup(ctx context.Context) error
	Add(ctx context.Context) error
	Remove(ctx context.Context) error
	Reconcile(ctx context.Context) (int, error)
	Status() []vip.AddrStatus
}

// Health is the application check monitor (check.Monitor).
type Health interface {
	Run(ctx context.Context)
	Healthy() bool
	Changes() <-chan bool
	Status() []check.Status
}

// Engine is the election engine (election.Engine).
type Engine interface {
	Run(ctx context.Context) error
	Events() <-chan election.Event
	Status() election.Status
	SetEligible(bool)
	SetAcquireDelay(time.Duration)
	Release(ctx context.Context, sitOut time.Duration) error
	Candidates() election.Candidates // who could take over (leaders only)
}

// Config is what the agent needs besides its parts.
type Config struct {
	NodeID   string
	Election string // backend name, for /status
	Timing   election.Config
	VIPs     []netip.Prefix

	// Priority: 1 is the best (LifeKeeper's convention). A node of priority
	// p waits (p-1) x PriorityStep after seeing the lease free before it
	// tries to take it. Zero fields get the defaults of Validate.
	Priority     int
	PriorityStep time.Duration

	ProbeProtocol string
	ProbePorts    []int
	// ProbeIdleTimeout: while leading, no probe for this long → warning and
	// lbhc_probe_idle=1, or a demotion when ProbeIdleDemote. 0 = off.
	ProbeIdleTimeout time.Duration
	ProbeIdleDemote  bool

	// CloudFailureContinue keeps leading when a cloud action fails after
	// its retries (it is reported); the default demotes.
	CloudFailureContinue bool
	MonitorInterval      time.Duration // cloud action verify/repair period
	ReconcileInterval    time.Duration // VIP reconcile period

	AdminAddress string
	AdminToken   string // "" = state-changing calls only over the unix socket
	StateDir     string // holds the standby flag across restarts and the admin socket
	// AdminSocket is the unix socket of the admin API; "" = <StateDir>/admin.sock,
	// "-" = none.
	AdminSocket string
	// AdminSocketGID > 0 makes the socket mode 0660 with this group, so its
	// members may run the CLI's commands; otherwise the socket is 0600.
	AdminSocketGID int
	// AdminOpenMetrics serves /metrics without the token on a non-loopback
	// admin address (everything else there needs the token).
	AdminOpenMetrics bool
	// AdminMaxConns caps concurrent admin connections per listener
	// (0 = 64); more are closed at once, so a flood never takes the
	// descriptors the lease needs.
	AdminMaxConns int

	ShutdownTimeout time.Duration // demote + release on SIGTERM
	// VIPLinkGrace: the VIP interface's link down this long makes a leader
	// hand over (with Parts.Link); 0 = not watched. VIPInterface names it.
	VIPLinkGrace time.Duration
	VIPInterface string
	Version      string
}

// Parts are the components main built from flags. Optional ones are nil.
type Parts struct {
	Engine  Engine
	Probe   Prober
	VIPs    Addresses
	Actions []cloud.Action
	Health  Health
	// Platform watches the cloud's notices for this VM (platform.go).
	Platform PlatformWatcher
	// Link reports the VIP interface's link state (link.go).
	Link LinkWatcher
	// Peers is the peer channel's link (peers.go): heartbeats, failsafe
	// promises, handover. nil without --peer.
	Peers *PeerLink
}

// Agent is one lbhc node.
type Agent struct {
	cfg    Config
	p      Parts
	log    *slog.Logger
	m      *metrics
	pm     *platformMetrics
	linkUp prometheus.Gauge
	reg    prometheus.Gatherer
	cmds   chan command
	ready  chan struct{}

	// Control loop goroutine only.
	cur     *term           // the running term worker (promoting, leading or demoting)
	pending *election.Lease // a grant that arrived while cur was still demoting

	stragglers inflight // demote steps cut by their budget, still running

	mu           sync.Mutex
	role         string
	term         uint64
	lease        *election.Lease // the current term's grant (nil between terms)
	transition   string          // "promoting" or "demoting" while the term's worker does slow work
	leaderSince  time.Time
	standby      bool
	lastReason   string
	lastChange   time.Time
	promoteFails int
	idleWarned   bool
	adminAddr    string
	adminSock    string // the unix socket's path, "" when none
	adminLoop    bool   // the TCP listener is on a loopback address
	plat         platformState
	linkDown     bool   // VIP link down past the grace: not campaigning
	linkState    string // "up", "down", "" = not watched
}

// New checks the configuration and builds an agent. reg must also be a
// Gatherer for /metrics (a *prometheus.Registry).
func New(cfg Config, p Parts, log *slog.Logger, reg *prometheus.Registry) (*Agent, error) {
	if p.Engine == nil || p.Probe == nil {
		return nil, errors.New("agent: engine and probe are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(reg, cfg)
	if err != nil {
		return nil, err
	}
	pm, err := newPlatformMetrics(reg)
	if err != nil {
		return nil, err
	}
	linkUp, err := newLinkGauge(reg)
	if err != nil {
		return nil, fmt.Errorf("register link metric: %w", err)
	}
	return &Agent{
		cfg: cfg, p: p, log: log, m: m, pm: pm, linkUp: linkUp, reg: reg,
		cmds: make(chan command), ready: make(chan struct{}),
		role: RoleFollower,
	}, nil
}

// Ready is closed once the admin API listens and the campaign has begun.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// AdminAddr is the admin API's bound address (after Ready).
func (a *Agent) AdminAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.adminAddr
}

// Run starts the node: clean up what a crashed earlier run left, serve the
// admin API, campaign, and follow lease events until ctx ends. Then, with a
// fresh timeout, it demotes and releases the lease before returning.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.startup(ctx); err != nil {
		return err
	}
	admin, err := a.serveAdmin()
	if err != nil {
		return err
	}
	defer admin.Close()

	runCtx, stopParts := context.WithCancel(context.Background())
	defer stopParts()
	var wg sync.WaitGroup
	engineErr := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); engineErr <- a.p.Engine.Run(runCtx) }()
	peerErr := a.startPeers(runCtx, &wg)
	var healthCh <-chan bool
	if a.p.Health != nil {
		healthCh = a.p.Health.Changes()
		wg.Add(1)
		go func() { defer wg.Done(); a.p.Health.Run(runCtx) }()
	}
	if err := a.p.Probe.Standby(); err != nil {
		stopParts()
		wg.Wait()
		return fmt.Errorf("open probe port for standby answers: %w", err)
	}
	a.log.Info("lbhc started", "node_id", a.cfg.NodeID, "election", a.cfg.Election,
		"probe", a.cfg.ProbeProtocol, "ports", a.cfg.ProbePorts, "admin", a.AdminAddr(),
		"lease_ttl", a.cfg.Timing.LeaseTTL, "renew_deadline", a.cfg.Timing.RenewDeadline,
		"retry_period", a.cfg.Timing.RetryPeriod, "priority", a.cfg.Priority, "standby", a.isStandby())
	platformCh := a.watchPlatform(runCtx)
	linkCh := a.watchLink(runCtx)
	close(a.ready)

	// The loop only decides: everything slow runs in the term's worker, so
	// lease events, admin calls and /healthz are answered within
	// milliseconds whatever a hook or cloud API is doing. It ticks only for
	// the probe watchdog; an idle node's loop otherwise wakes on events alone.
	var tickC <-chan time.Time
	if d := a.tickInterval(); d > 0 {
		tick := time.NewTicker(d)
		defer tick.Stop()
		tickC = tick.C
	}
	var runErr error
loop:
	for {
		var termDone <-chan struct{}
		if a.cur != nil {
			termDone = a.cur.done
		}
		select {
		case <-ctx.Done():
			break loop
		case err := <-engineErr:
			runErr = fmt.Errorf("election engine stopped: %w", err)
			break loop
		case err := <-peerErr:
			runErr = fmt.Errorf("peer channel stopped: %w", err)
			break loop
		case ev := <-a.p.Engine.Events():
			a.handleEvent(ev)
		case h := <-healthCh:
			a.healthChanged(h)
		case n := <-platformCh:
			a.handlePlatform(ctx, n)
		case ev := <-linkCh:
			a.handleLink(ev)
		case c := <-a.cmds:
			a.handleCommand(c)
		case <-termDone:
			a.termEnded()
		case <-tickC:
			a.watchdog()
		}
	}
	a.shutdown()
	stopParts()
	wg.Wait()
	return runErr
}

// tickInterval is how often the loop wakes for the probe watchdog: a
// quarter of --probe-idle-timeout, or 0 (no tick) when the watchdog is off.
// VIP reconcile and cloud monitor run in the term's worker at their own
// periods (leadTick), so an idle node wakes no more often than its duties
// need (a fixed 1 s tick woke every idle node 60 times a minute).
func (a *Agent) tickInterval() time.Duration {
	if a.cfg.ProbeIdleTimeout <= 0 {
		return 0
	}
	return max(a.cfg.ProbeIdleTimeout/4, 50*time.Millisecond)
}

// due reports whether a duty with period every, last run at last, is due
// at a tick at now (ticks tick apart).
func due(now, last time.Time, every, tick time.Duration) bool {
	return now.Sub(last) >= every-tick/2
}

// startup runs before campaigning: check that VIPs can be managed, remove
// VIPs a crashed earlier run left behind, restore standby.
func (a *Agent) startup(ctx context.Context) error {
	if a.p.VIPs != nil {
		if err := a.p.VIPs.Preflight(ctx); err != nil {
			return err
		}
		if err := a.p.VIPs.Cleanup(ctx); err != nil {
			return fmt.Errorf("remove stale VIPs: %w", err)
		}
	}
	sb, err := loadStandby(a.cfg.StateDir)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.standby = sb
	if sb {
		a.role = RoleStandby
	}
	a.mu.Unlock()
	a.updateEligibility()
	return nil
}

// shutdown demotes and releases within one budget, --shutdown-timeout
// from now (the caller's context is already cancelled by SIGTERM): the
// running term is cancelled and demoted with a share of the budget
// reserved for the lease release, so the successor does not wait a TTL.
func (a *Agent) shutdown() {
	start := time.Now()
	end := start.Add(a.cfg.ShutdownTimeout)
	released := false
	a.pending = nil // no new term once shutting down
	if t := a.cur; t != nil {
		a.stopTerm(t, stopReq{reason: "shutting down", release: true, handover: true, end: end})
		select {
		case <-t.done:
			released = t.released
			a.termEnded()
		case <-time.After(time.Until(end)):
			a.log.Error("demotion did not finish within --shutdown-timeout", "term", t.lease.Term, "timeout", a.cfg.ShutdownTimeout)
		}
	}
	if !released {
		// Also ends a grant the loop had not yet seen.
		ctx, cancel := context.WithDeadline(context.Background(), end)
		err := a.p.Engine.Release(ctx, 0)
		cancel()
		if err != nil {
			a.log.Error("lease release on shutdown failed; other nodes take over when it expires", "err", err)
		}
	}
	a.p.Probe.Close()
	a.log.Info("stopped", "shutdown_took", time.Since(start).Round(time.Millisecond))
}
