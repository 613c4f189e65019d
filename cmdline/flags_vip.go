package cmdline

import (
	"errors"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/vip"
)

// VIP flag defaults. Three announcement rounds 200 ms apart reach switches
// and neighbours that miss the first frame (a port still learning, a busy
// host) and are over 400 ms after promotion; reconciling every 5 s bounds
// how long a VIP removed by someone else stays missing.
const (
	defaultGARPCount         = 3
	defaultGARPInterval      = 200 * time.Millisecond
	defaultVIPReconcileEvery = 5 * time.Second
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
			Value:    defaultGARPCount,
			EnvVars:  envs("garp-count"),
		},
		&cli.DurationFlag{
			Name:     "garp-interval",
			Category: cat,
			Usage:    "pause between two announcement rounds",
			Value:    defaultGARPInterval,
			EnvVars:  envs("garp-interval"),
		},
		&cli.DurationFlag{
			Name:     "vip-reconcile-interval",
			Category: cat,
			Usage:    "how often the VIPs are checked and repaired (re-added while leading, removed otherwise)",
			Value:    defaultVIPReconcileEvery,
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
	mode := vip.Mode(c.String("vip-mode"))
	switch mode {
	case vip.ModeNIC:
		if iface == "" {
			return vip.Config{}, false, flagErr("vip-interface", "required with --vip-mode nic")
		}
	case vip.ModeLoopback:
	default:
		return vip.Config{}, false, flagErr("vip-mode", "%q is not one of nic, loopback", string(mode))
	}
	count := c.Int("garp-count")
	if count < 0 {
		return vip.Config{}, false, flagErr("garp-count", "%d is negative", count)
	}
	interval := c.Duration("garp-interval")
	if count > 1 && interval <= 0 {
		return vip.Config{}, false, flagErr("garp-interval", "%v must be positive when --garp-count is above 1", interval)
	}
	reconcile := c.Duration("vip-reconcile-interval")
	if reconcile <= 0 {
		return vip.Config{}, false, flagErr("vip-reconcile-interval", "%v must be positive", reconcile)
	}
	return vip.Config{
		Addrs:             addrs,
		Interface:         iface,
		Mode:              mode,
		GARPCount:         count,
		GARPInterval:      interval,
		ReconcileInterval: reconcile,
	}, true, nil
}
