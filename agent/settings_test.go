package agent

import (
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

// The agent judges its own settings once: each bad value names its flag;
// zero fields New accepts get the defaults derived from the lease timing.
func TestConfigValidate(t *testing.T) {
	timing := election.Config{NodeID: "a", LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	good := Config{Timing: timing}.withDefaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if good.Priority != DefaultPriority || good.PriorityStep != 2500*time.Millisecond || good.MonitorInterval != DefaultMonitorInterval ||
		good.ReconcileInterval != DefaultReconcileInterval || good.ShutdownTimeout != 10*time.Second {
		t.Fatalf("defaults: %+v", good)
	}
	bad := []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Priority = 0 }, "invalid --priority: 0 is out of range 1-1000 (1 is the best)"},
		{func(c *Config) { c.Priority = 1001 }, "invalid --priority: 1001 is out of range 1-1000 (1 is the best)"},
		{func(c *Config) { c.PriorityStep = -time.Second }, "invalid --priority-step: must not be negative, got -1s"},
		{func(c *Config) { c.ShutdownTimeout = -time.Second }, "invalid --shutdown-timeout: must not be negative, got -1s"},
		{func(c *Config) { c.ProbeIdleTimeout = -time.Second }, "invalid --probe-idle-timeout: must not be negative, got -1s"},
		{func(c *Config) { c.VIPLinkGrace = -time.Second }, "invalid --vip-link-grace: must not be negative, got -1s"},
		{func(c *Config) { c.MonitorInterval = 0 }, "invalid --cloud-monitor-interval: must be positive"},
		{func(c *Config) { c.ReconcileInterval = 0 }, "invalid --vip-reconcile-interval: 0s must be positive"},
	}
	for _, b := range bad {
		c := good
		b.edit(&c)
		if err := c.Validate(); err == nil || err.Error() != b.want {
			t.Errorf("%+v: %v, want %q", c, err, b.want)
		}
	}
	// What the flags leave at zero is valid: derived or off.
	c := good
	c.PriorityStep, c.ShutdownTimeout, c.ProbeIdleTimeout, c.VIPLinkGrace = 0, 0, 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("zero derived settings: %v", err)
	}
}
