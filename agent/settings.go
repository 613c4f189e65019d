// The agent's own settings: their defaults and their validation, written
// once here; the command line shows the defaults as its flags' defaults,
// maps its flags onto Config and relies on Validate instead of judging the
// values itself.

package agent

import (
	"time"

	"github.com/lbhc/lbhc/configerr"
)

// Defaults of the agent's settings. New gives them to zero fields of
// Config; the command line passes every value explicitly.
const (
	DefaultPriority          = 1 // the best priority (LifeKeeper's convention)
	MaxPriority              = 1000
	DefaultMonitorInterval   = 10 * time.Second // cloud action verify/repair period
	DefaultReconcileInterval = 5 * time.Second  // bounds how long a VIP someone removed stays missing
	// priorityStepMargin is added to the retry period for the default
	// PriorityStep: enough for a better node's next attempt to come first.
	priorityStepMargin = 500 * time.Millisecond
)

// withDefaults fills the zero fields New accepts: Priority, the two
// intervals, and the settings derived from the lease timing (PriorityStep
// retry-period + 500 ms, ShutdownTimeout renew-deadline).
func (c Config) withDefaults() Config {
	if c.Priority == 0 {
		c.Priority = DefaultPriority
	}
	if c.PriorityStep == 0 {
		c.PriorityStep = c.Timing.RetryPeriod + priorityStepMargin
	}
	if c.MonitorInterval == 0 {
		c.MonitorInterval = DefaultMonitorInterval
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = DefaultReconcileInterval
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = c.Timing.RenewDeadline
	}
	return c
}

// Validate checks the agent's settings as given, with no I/O: a priority in
// 1..MaxPriority, positive monitor and reconcile intervals; PriorityStep,
// ShutdownTimeout (0 = derived from the lease timing), ProbeIdleTimeout
// (0 = off) and VIPLinkGrace (0 = not watched) not negative. An error names
// the flag.
func (c Config) Validate() error {
	if c.Priority < 1 || c.Priority > MaxPriority {
		return configerr.New("priority", "%d is out of range 1-%d (1 is the best)", c.Priority, MaxPriority)
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"priority-step", c.PriorityStep}, {"shutdown-timeout", c.ShutdownTimeout},
		{"probe-idle-timeout", c.ProbeIdleTimeout}, {"vip-link-grace", c.VIPLinkGrace},
		{"cloud-monitor-interval", c.MonitorInterval}, {"vip-reconcile-interval", c.ReconcileInterval},
	} {
		if d.v < 0 {
			return configerr.New(d.flag, "must not be negative, got %s", d.v)
		}
	}
	if c.MonitorInterval == 0 {
		return configerr.New("cloud-monitor-interval", "must be positive")
	}
	if c.ReconcileInterval == 0 {
		return configerr.New("vip-reconcile-interval", "%v must be positive", c.ReconcileInterval)
	}
	return nil
}
