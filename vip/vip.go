// Package vip owns the virtual IP addresses of an lbhc group: the leader adds
// them to a local interface (and announces them with gratuitous ARP /
// unsolicited neighbour advertisements), followers never hold them.
//
// Addresses lbhc adds are marked so that they are recognisable after a crash
// and are never chosen as a source address. Addresses lbhc did not add are
// never removed or adopted: a VIP that equals one of the host's own addresses
// is a configuration error.
//
// Platform code lives in vip_linux.go (netlink), vip_windows.go (IP Helper)
// and vip_other.go (unsupported).
package vip

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/lbhc/lbhc/configerr"
)

// Mode says where the VIPs are added.
type Mode string

const (
	// ModeNIC adds the VIPs to a (usually secondary) network interface and
	// announces them on its link.
	ModeNIC Mode = "nic"
	// ModeLoopback adds the VIPs to the loopback interface, for load
	// balancers that deliver packets addressed to the VIP itself (Azure
	// floating IP, direct server return). Nothing is announced.
	ModeLoopback Mode = "loopback"
)

// Recommended announcement settings, which the command line offers as its
// flags' defaults: three rounds 200 ms apart reach switches and neighbours
// that miss the first frame (a port still learning, a busy host) and are
// over 400 ms after promotion. (A zero GARPCount sends none.)
const (
	DefaultGARPCount    = 3
	DefaultGARPInterval = 200 * time.Millisecond
)

// Config describes the VIPs and how they are owned.
type Config struct {
	Addrs []netip.Prefix
	// Interface is required in nic mode; in loopback mode it defaults to the
	// platform's loopback interface ("lo" on Linux).
	Interface string
	Mode      Mode
	// GARPCount is the number of gratuitous ARP (IPv4) / unsolicited
	// neighbour advertisement (IPv6) rounds sent after the VIPs are added in
	// nic mode; 0 sends none. The first round is sent before Add returns.
	GARPCount int
	// GARPInterval is the pause between two rounds.
	GARPInterval time.Duration
	// GARPRefresh, when positive, repeats one announcement round at this
	// interval for as long as the VIPs are held (refresh.go); 0 = off.
	GARPRefresh time.Duration
	// ReconcileInterval is how often the agent calls Reconcile while it
	// runs; the agent judges it (agent.Config.Validate), the manager itself
	// does not use it.
	ReconcileInterval time.Duration
}

// AddrStatus is one VIP as shown in /status.
type AddrStatus struct {
	Addr      string `json:"addr"`
	Present   bool   `json:"present"`
	Interface string `json:"interface"`
}

// ConfigError is invalid configuration; lbhc exits with status 2. It is
// lbhc's one configuration error type.
type ConfigError = configerr.Error

var configErr = configerr.New

// ParseAddrs parses --vip values. Each value may hold several addresses
// separated by commas. Each is one host address: IPv4 /32, IPv6 /128 (an
// explicit prefix length must be that one).
func ParseAddrs(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	seen := map[netip.Addr]string{}
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := parseAddr(s)
			if err != nil {
				return nil, err
			}
			if prev, ok := seen[p.Addr()]; ok {
				return nil, configErr("vip", "%s listed twice (%q and %q)", p.Addr(), prev, s)
			}
			seen[p.Addr()] = s
			out = append(out, p)
		}
	}
	return out, nil
}

func parseAddr(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, configErr("vip", "%q is not an IP address or address/prefix-length", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, configErr("vip", "%q is not an IP address or address/prefix-length", s)
		}
		if a.Zone() != "" {
			return p, configErr("vip", "%q: zoned addresses are not supported", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	switch {
	case a.Is4In6():
		return p, configErr("vip", "%q is an IPv4-mapped IPv6 address; give the IPv4 form", s)
	case a.IsUnspecified():
		return p, configErr("vip", "%q is the unspecified address", s)
	case a.IsLoopback():
		return p, configErr("vip", "%q is a loopback address", s)
	case a.IsMulticast():
		return p, configErr("vip", "%q is a multicast address", s)
	case a.IsLinkLocalUnicast():
		return p, configErr("vip", "%q is a link-local address", s)
	case p.Bits() != a.BitLen():
		// A shorter prefix adds a connected route for the whole range on
		// the VIP's interface, which shadows the real subnet (a /31 takes
		// the neighbour's address with it).
		return p, configErr("vip", "%q: a VIP is one address (/%d), not a range", s, a.BitLen())
	}
	return p, nil
}

// Validate checks cfg with no I/O, as New does, and returns it with the
// defaults filled in.
func (cfg Config) Validate() (Config, error) { return cfg.validate(defaultLoopback) }

// validate checks cfg and fills defaults. defaultLoopback is the platform's
// loopback interface name.
func (cfg Config) validate(defaultLoopback string) (Config, error) {
	if len(cfg.Addrs) == 0 {
		return cfg, configErr("vip", "no address given")
	}
	seen := map[netip.Addr]bool{}
	for _, p := range cfg.Addrs {
		if !p.IsValid() {
			return cfg, configErr("vip", "invalid prefix %v", p)
		}
		if seen[p.Addr()] {
			return cfg, configErr("vip", "%s listed twice", p.Addr())
		}
		seen[p.Addr()] = true
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeNIC
	case ModeNIC, ModeLoopback:
	default:
		return cfg, configErr("vip-mode", "%q is not one of nic, loopback", string(cfg.Mode))
	}
	if cfg.Interface == "" {
		if cfg.Mode == ModeNIC {
			return cfg, configErr("vip-interface", "required with --vip-mode nic")
		}
		cfg.Interface = defaultLoopback
	}
	if cfg.GARPCount < 0 {
		return cfg, configErr("garp-count", "%d is negative", cfg.GARPCount)
	}
	if cfg.GARPCount > 1 && cfg.GARPInterval <= 0 {
		return cfg, configErr("garp-interval", "%v must be positive when --garp-count is above 1", cfg.GARPInterval)
	}
	if err := cfg.validateRefresh(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// link is a network interface as the platform sees it.
type link struct {
	Name  string
	Index int
	// HardwareAddr is the link-layer address used in announcements; nil
	// when the link has none (loopback, tunnels).
	HardwareAddr []byte
	// NoARP is set for links that do not resolve neighbours (IFF_NOARP).
	NoARP bool
	// LUID is the Windows interface LUID (0 elsewhere).
	LUID uint64
}

// hostAddr is one address configured on the host.
type hostAddr struct {
	Prefix    netip.Prefix
	LinkIndex int
	LinkName  string
	// Ours reports whether lbhc added the address (it carries lbhc's mark).
	Ours bool
	// Label is the IPv4 address label on Linux ("" elsewhere); it is sent
	// back on deletion so that only the labelled address can match.
	Label string
}

// findLink returns the link named name. The error is a ConfigError naming
// --vip-interface and listing the links that exist. matchIndex also accepts
// the decimal interface index (Windows: interface by alias or index).
// foldCase compares names case-insensitively (Windows aliases).
func findLink(links []link, name string, matchIndex, foldCase bool) (link, error) {
	for _, l := range links {
		if l.Name == name || (foldCase && strings.EqualFold(l.Name, name)) {
			return l, nil
		}
	}
	if matchIndex {
		for _, l := range links {
			if fmt.Sprint(l.Index) == name {
				return l, nil
			}
		}
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.Name)
	}
	return link{}, configErr("vip-interface", "interface %q not found (have: %s)", name, strings.Join(names, ", "))
}
