package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config is the check timing shared by all checks.
type Config struct {
	Interval time.Duration // time between the starts of two runs of a check
	Timeout  time.Duration // limit of one run; ≤ Interval
	Fall     int           // consecutive failures that make a healthy check unhealthy
	Rise     int           // consecutive successes that make a check healthy
}

// DefaultConfig holds the flag defaults: a failing application is detected
// within Interval × Fall (6 s) and trusted again after Interval × Rise (4 s).
var DefaultConfig = Config{Interval: 2 * time.Second, Timeout: time.Second, Fall: 3, Rise: 2}

// Validate reports the first invalid field as a *ConfigError naming its flag.
func (c Config) Validate() error {
	switch {
	case c.Interval <= 0:
		return configErr("check-interval", "must be greater than 0 (got %s)", c.Interval)
	case c.Timeout <= 0:
		return configErr("check-timeout", "must be greater than 0 (got %s)", c.Timeout)
	case c.Timeout > c.Interval:
		return configErr("check-timeout", "%s is longer than --check-interval %s", c.Timeout, c.Interval)
	case c.Fall < 1:
		return configErr("check-fall", "must be at least 1 (got %d)", c.Fall)
	case c.Rise < 1:
		return configErr("check-rise", "must be at least 1 (got %d)", c.Rise)
	}
	return nil
}

// withDefaults replaces zero or negative fields by DefaultConfig's and caps
// Timeout at Interval, so a Monitor always has a usable configuration.
func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultConfig.Interval
	}
	if c.Timeout <= 0 {
		c.Timeout = min(DefaultConfig.Timeout, c.Interval)
	}
	c.Timeout = min(c.Timeout, c.Interval)
	if c.Fall < 1 {
		c.Fall = DefaultConfig.Fall
	}
	if c.Rise < 1 {
		c.Rise = DefaultConfig.Rise
	}
	return c
}

// Status is one check's state as shown in /status.
type Status struct {
	Name    string `json:"name"`
	State   string `json:"state"` // "unknown" (not yet proven healthy), "healthy", "unhealthy"
	Healthy bool   `json:"healthy"`
	// LastError is the error of the most recent run; empty when it passed.
	LastError           string    `json:"last_error,omitempty"`
	LastRun             time.Time `json:"last_run,omitzero"` // start of the most recent run
	LastDurationSeconds float64   `json:"last_duration_seconds"`
	LastChange          time.Time `json:"last_change,omitzero"` // when State last changed
	Successes           int       `json:"successes"`            // consecutive, counts towards Rise
	Failures            int       `json:"failures"`             // consecutive, counts towards Fall
	Rise                int       `json:"rise"`
	Fall                int       `json:"fall"`
	Runs                uint64    `json:"runs"`           // results since start
	FailuresTotal       uint64    `json:"failures_total"` // failed results since start
}

// Monitor runs checks periodically and tracks the node's overall health:
// healthy when every check is healthy.
//
// Initial state: every check starts "unknown" and the node unhealthy; a
// check becomes healthy after Rise consecutive successes (the first run
// starts at once when Run is called, so with the defaults the node is
// healthy about one Interval after start). A node without checks is always
// healthy. Rationale: an unhealthy node only refrains from campaigning, so
// waiting for proof costs seconds at start-up, while trusting an unproven
// application could hand it the VIP and fail over again right away.
//
// A run cut short because Run's context ended is not counted.
type Monitor struct {
	cfg     Config
	log     *slog.Logger
	entries []*entry
	changes chan bool
	met     *metrics

	mu      sync.Mutex
	healthy bool // overall
}

type entry struct {
	check      Check
	name       string // unique within the Monitor
	c          counter
	lastErr    string
	lastRun    time.Time
	lastDur    time.Duration
	lastChange time.Time
}

// NewMonitor prepares checks for Run. cfg should have passed Validate; zero
// or negative fields take DefaultConfig's values and Timeout is capped at
// Interval. log and reg may be nil. Metrics are registered on reg; when reg
// already holds them (a second Monitor) the registered ones are shared.
func NewMonitor(checks []Check, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Monitor {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{
		cfg:     cfg,
		log:     log,
		changes: make(chan bool, 1),
		met:     newMetrics(reg),
		healthy: len(checks) == 0,
	}
	used := map[string]bool{}
	for _, ch := range checks {
		// Two specs that differ only in userinfo, query values or #expect=
		// get the same name; keep labels and /status distinct.
		name := ch.Name()
		for n := 2; used[name]; n++ {
			name = fmt.Sprintf("%s #%d", ch.Name(), n)
		}
		used[name] = true
		m.entries = append(m.entries, &entry{check: ch, name: name, c: counter{rise: cfg.Rise, fall: cfg.Fall}})
		m.met.healthy.WithLabelValues(name).Set(0)
		m.met.failures.WithLabelValues(name).Add(0)
	}
	m.met.all.Set(b2f(m.healthy))
	return m
}

// Config is the effective configuration (after defaults).
func (m *Monitor) Config() Config { return m.cfg }

// Run runs every check at once and then every Interval, each run limited to
// Timeout, until ctx ends; it returns when all runs have finished. Checks run
// concurrently, so a slow check does not delay the others. Call Run once.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range m.entries {
		wg.Go(func() { m.loop(ctx, e) })
	}
	wg.Wait()
	<-ctx.Done() // no checks: still run until told to stop
}

func (m *Monitor) loop(ctx context.Context, e *entry) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		m.runOnce(ctx, e)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Monitor) runOnce(ctx context.Context, e *entry) {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	err := e.check.Run(rctx)
	timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded)
	cancel()
	d := time.Since(start)
	if ctx.Err() != nil {
		return // shutting down: not a verdict on the application
	}
	if err != nil && timedOut {
		err = fmt.Errorf("timed out after %s: %w", m.cfg.Timeout, err)
	}
	m.record(e, err, start, d)
}

// record feeds one result to e's state machine and publishes the changes.
func (m *Monitor) record(e *entry, err error, start time.Time, d time.Duration) {
	m.met.duration.WithLabelValues(e.name).Observe(d.Seconds())
	if err != nil {
		m.met.failures.WithLabelValues(e.name).Inc()
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	wasHealthy := e.c.state == healthy
	changed := e.c.observe(err == nil)
	e.lastRun, e.lastDur, e.lastErr = start, d, ""
	if err != nil {
		e.lastErr = err.Error()
	}
	switch {
	case changed:
		e.lastChange = start.Add(d)
		m.met.healthy.WithLabelValues(e.name).Set(b2f(e.c.state == healthy))
		if e.c.state == healthy {
			m.log.Info("check healthy", "check", e.name, "successes", e.c.succ)
		} else {
			m.log.Warn("check unhealthy", "check", e.name, "failures", e.c.fail, "error", e.lastErr)
		}
	case err != nil && wasHealthy:
		// Counting towards fall: worth seeing before the node demotes.
		m.log.Info("check failed", "check", e.name, "failures", e.c.fail, "fall", e.c.fall, "error", e.lastErr)
	case err != nil:
		m.log.Debug("check failed", "check", e.name, "failures", e.c.fail, "error", e.lastErr)
	}
	if !changed {
		return
	}
	all := true
	var failing []string
	for _, x := range m.entries {
		if x.c.state != healthy {
			all = false
			failing = append(failing, x.name)
		}
	}
	if all == m.healthy {
		return
	}
	m.healthy = all
	m.met.all.Set(b2f(all))
	if all {
		m.log.Info("application checks healthy", "checks", len(m.entries))
	} else {
		m.log.Warn("application checks unhealthy", "failing", strings.Join(failing, ", "))
	}
	m.publish(all)
}

// publish hands a flip to Changes without ever blocking. m.mu is held, so
// this is the only sender. If the reader has not taken the previous flip
// yet, the new one cancels it: the reader's last value is already the
// current health. Readers therefore see strictly alternating values.
func (m *Monitor) publish(v bool) {
	select {
	case <-m.changes:
		return
	default:
	}
	m.changes <- v // buffer of 1, emptied above, only sender: never blocks
}

// Healthy reports whether every check is healthy now (false until proven,
// true when there are no checks).
func (m *Monitor) Healthy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.healthy
}

// Changes receives the new overall health on each flip. Values alternate,
// starting with true (the node starts unhealthy when it has checks). A flip
// that the reader has not received before the next flip is dropped together
// with it, so treat each value as the current health. Without checks the
// health never changes and nothing is sent.
func (m *Monitor) Changes() <-chan bool { return m.changes }

// Status returns every check's state, in the order given to NewMonitor.
func (m *Monitor) Status() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, Status{
			Name:                e.name,
			State:               e.c.state.String(),
			Healthy:             e.c.state == healthy,
			LastError:           e.lastErr,
			LastRun:             e.lastRun,
			LastDurationSeconds: e.lastDur.Seconds(),
			LastChange:          e.lastChange,
			Successes:           e.c.succ,
			Failures:            e.c.fail,
			Rise:                e.c.rise,
			Fall:                e.c.fall,
			Runs:                e.c.runs,
			FailuresTotal:       e.c.failures,
		})
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
