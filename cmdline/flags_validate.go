package cmdline

import (
	"net"
	"net/netip"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
)

// hardeningFlags are the run flags that limit who can reach lbhc: admin API
// access and the probe source filter.
func hardeningFlags() []cli.Flag {
	return append(adminFlags(),
		&cli.StringSliceFlag{Name: "probe-allow", EnvVars: envs("probe-allow"),
			Usage: "only these sources (CIDR, repeat or comma-separate) may connect to the probe port, enforced in the kernel fence where loaded; default: any (see README for each cloud's probe ranges)"},
	)
}

// validateRunValues checks the values that need no I/O and that the
// owning packages' validation does not cover: a lease name that would
// leave the state dir, a retry period that would spin, a probe port that
// collides with the admin API.
func validateRunValues(c *cli.Context) error {
	if err := validateLeaseName(c.String("lease-name")); err != nil {
		return err
	}
	if rp := c.Duration("retry-period"); rp < election.MinRetryPeriod {
		return flagErr("retry-period", "%s is below the floor of %s (every node writes the lease once a period)", rp, election.MinRetryPeriod)
	}
	return checkProbeVsAdmin(c.String("probe-address"), c.IntSlice("probe-port"), c.String("admin-address"))
}

// checkProbeVsAdmin refuses a probe port equal to the admin API's port on
// an overlapping address: the second listener would fail at every
// promotion.
func checkProbeVsAdmin(probeAddr string, ports []int, adminAddr string) error {
	host, port, err := net.SplitHostPort(adminAddr)
	if err != nil {
		return nil // validateAdminAddress reports it
	}
	ap, err := strconv.Atoi(port)
	if err != nil || ap == 0 {
		return nil
	}
	overlap := probeAddr == "" || host == "" || host == probeAddr
	if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
		overlap = true
	}
	if a, err := netip.ParseAddr(probeAddr); err == nil && a.IsUnspecified() {
		overlap = true
	}
	for _, p := range ports {
		if p == ap && overlap {
			return flagErr("probe-port", "%d is the admin API's port (--admin-address %s)", p, adminAddr)
		}
	}
	return nil
}

// checkProbeAddressLocal refuses a --probe-address that is neither an
// address of this host nor one of the VIPs (added before the probe port
// opens): binding it would fail at every promotion.
func checkProbeAddressLocal(addr string, vips []netip.Prefix) error {
	if addr == "" {
		return nil
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.IsUnspecified() {
		return nil // probe.Config.Validate reports a bad one; :: and 0.0.0.0 are "all"
	}
	a = a.Unmap().WithZone("") // interface addresses carry no zone
	for _, v := range vips {
		if v.Addr() == a {
			return nil
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return flagErr("probe-address", "cannot list this host's addresses to check %s: %v", addr, err)
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if la, ok := netip.AddrFromSlice(n.IP); ok && la.Unmap() == a {
				return nil
			}
		}
	}
	return flagErr("probe-address", "%s is not an address of this host nor a --vip", addr)
}
