// The probe configuration: its fields, defaults and validation (the command
// line maps its flags onto Config and relies on Validate).

package probe

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/lbhc/lbhc/configerr"
)

// Standby modes: what a follower's probe port does.
const (
	StandbyClosed = "closed" // no listener: the LB sees connection refused
	Standby503    = "503"    // http only: the listener stays and answers 503
)

// Defaults of the probe settings: Validate fills them in for zero fields,
// and the command line shows them as its flags' defaults.
const (
	DefaultProtocol = "tcp"
	DefaultMaxConns = 128             // concurrent connections before the oldest is dropped
	DefaultTimeout  = 2 * time.Second // read+write deadline of one probe connection
)

// Config is the probe responder's configuration. Zero fields get the
// defaults above; Validate is the only check the command line relies on.
type Config struct {
	Protocol string        // "tcp" or "http"; "" = DefaultProtocol
	Ports    []int         // one or more ports, e.g. one for an ILB and one for a global LB
	Address  string        // bind address; "" = all addresses
	Message  string        // tcp: written then closed; http: the 200 body
	Standby  string        // StandbyClosed or Standby503
	NodeID   string        // reported in the X-Lbhc-Node header of HTTP answers
	MaxConns int           // concurrent connections; the oldest is dropped when full; 0 = DefaultMaxConns
	Timeout  time.Duration // read+write deadline of one probe connection; 0 = DefaultTimeout
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

// ConfigError is invalid probe configuration (exit 2): lbhc's one
// configuration error type.
type ConfigError = configerr.Error

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Protocol == "" {
		c.Protocol = DefaultProtocol
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
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConns < 1 {
		return &ConfigError{Flag: "probe-max-conns", Msg: fmt.Sprintf("must be at least 1, got %d", c.MaxConns)}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return &ConfigError{Flag: "probe-timeout", Msg: fmt.Sprintf("must be positive, got %s", c.Timeout)}
	}
	if c.Backlog < 0 {
		return &ConfigError{Flag: "probe-backlog", Msg: fmt.Sprintf("must be positive, got %d", c.Backlog)}
	}
	return nil
}
