package probe

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// maxAllow bounds --probe-allow: every entry is a few instructions of the
// kernel filter, run for each packet to the probe port.
const maxAllow = 64

// ParseAllow parses --probe-allow values: CIDRs or single addresses,
// repeated or comma-separated. IPv4-mapped IPv6 forms are taken as IPv4
// (the kernel sees IPv4 packets on a dual-stack socket as IPv4).
func ParseAllow(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := parseAllowOne(s)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	if len(out) > maxAllow {
		return nil, &ConfigError{Flag: "probe-allow", Msg: fmt.Sprintf("%d ranges given, at most %d are supported", len(out), maxAllow)}
	}
	return out, nil
}

func parseAllowOne(s string) (netip.Prefix, error) {
	bad := &ConfigError{Flag: "probe-allow", Msg: fmt.Sprintf("%q is not a CIDR like 168.63.129.16/32 or an IP address", s)}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, bad
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return p, bad
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			return p, &ConfigError{Flag: "probe-allow", Msg: fmt.Sprintf("%q: an IPv4-mapped range needs a prefix length of at least 96", s)}
		}
		p = netip.PrefixFrom(a.Unmap(), bits)
	}
	return p.Masked(), nil
}

// allowedSource reports whether a connection from addr may be served: an
// empty list admits everyone.
func allowedSource(allow []netip.Prefix, addr net.Addr) bool {
	if len(allow) == 0 {
		return true
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	a := ta.AddrPort().Addr().Unmap()
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
