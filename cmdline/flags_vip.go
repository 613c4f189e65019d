package cmdline

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/vip"
)

// vipFlags are the virtual IP flags of `lbhc run`: which addresses the
// leader owns, on which interface, and how it announces them.
func vipFlags() []cli.Flag {
	const cat = "Virtual IP"
	return []cli.Flag{
		&cli.StringSliceFlag{
			Name:     "vip",
			Category: cat,
			Usage: "virtual IP the leader owns (repeatable or comma-separated): one address, IPv4 /32 or IPv6 /128 " +
				"(no other prefix length). lbhc adds it marked as its own and never as a source address",
			EnvVars: envs("vip"),
		},
		&cli.StringFlag{
			Name:     "vip-interface",
			Category: cat,
			Usage:    "interface that holds the VIPs (Windows: alias or index); required with --vip-mode nic, default in loopback mode: lo (Windows: Loopback Pseudo-Interface 1)",
			EnvVars:  envs("vip-interface"),
		},
		&cli.StringFlag{
			Name:     "vip-mode",
			Category: cat,
			Usage:    "nic: add the VIPs to --vip-interface and announce them; loopback: add them to the loopback interface for load balancers with floating IP / direct server return (nothing announced)",
			Value:    string(vip.ModeNIC),
			EnvVars:  envs("vip-mode"),
		},
		&cli.IntFlag{
			Name:     "garp-count",
			Category: cat,
			Usage:    "gratuitous ARP / unsolicited neighbour advertisement rounds after adding the VIPs in nic mode (0: none)",
			Value:    vip.DefaultGARPCount,
			EnvVars:  envs("garp-count"),
		},
		&cli.DurationFlag{
			Name:     "garp-interval",
			Category: cat,
			Usage:    "pause between two announcement rounds",
			Value:    vip.DefaultGARPInterval,
			EnvVars:  envs("garp-interval"),
		},
		&cli.DurationFlag{
			Name:     "vip-reconcile-interval",
			Category: cat,
			Usage:    "how often the VIPs are checked and repaired (re-added while leading, removed otherwise)",
			Value:    agent.DefaultReconcileInterval,
			EnvVars:  envs("vip-reconcile-interval"),
		},
	}
}

// vipConfig validates the VIP flags. enabled is false when no --vip is
// given (then the other VIP flags are ignored, except that a
// --vip-interface without --vip is reported as a mistake).
func vipConfig(c *cli.Context) (vip.Config, bool, error) {
	addrs, err := vip.ParseAddrs(c.StringSlice("vip"))
	if err != nil {
		var ce *vip.ConfigError
		if errors.As(err, &ce) {
			return vip.Config{}, false, flagErr(ce.Flag, "%s", ce.Msg)
		}
		return vip.Config{}, false, flagErr("vip", "%v", err)
	}
	iface := c.String("vip-interface")
	if len(addrs) == 0 {
		if iface != "" {
			return vip.Config{}, false, flagErr("vip", "no address given, but --vip-interface is set to %q", iface)
		}
		return vip.Config{}, false, nil
	}
	cfg := vip.Config{
		Addrs:             addrs,
		Interface:         iface,
		Mode:              vip.Mode(c.String("vip-mode")),
		GARPCount:         c.Int("garp-count"),
		GARPInterval:      c.Duration("garp-interval"),
		ReconcileInterval: c.Duration("vip-reconcile-interval"),
	}
	// The vip package judges the values (vip.New checks them again and
	// fills the defaults); the command line only maps the flags. The
	// reconcile interval is the agent's (runAction has it judged).
	if _, err := cfg.Validate(); err != nil {
		return vip.Config{}, false, err
	}
	return cfg, true, nil
}
