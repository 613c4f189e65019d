package vip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	defaultLoopback   = "lo"
	interfaceByIndex  = false
	interfaceFoldCase = false
)

// lbhc marks its addresses in two ways:
//   - IFA_PROTO (Linux 5.18+, IPv4 and IPv6): the address protocol, which
//     recent iproute2 versions show as "proto 0xa7" (6.1 does not);
//   - the IPv4 address label "<iface>:lbhc" (IFNAMSIZ-1 = 15 bytes at most).
//
// An address is lbhc's if it carries either mark.
const (
	ifaProto       = 11   // IFA_PROTO, not yet in x/sys/unix
	lbhcProto      = 0xa7 // lbhc's IFA_PROTO value; the kernel's own are 0-3
	labelSuffix    = ":lbhc"
	maxLabelLen    = 15 // IFNAMSIZ - 1
	infiniteLft    = 0xffffffff
	netlinkTimeout = 5 * time.Second
)

// addrLabel is the IPv4 label lbhc gives its addresses on iface. Names too
// long for "<iface>:lbhc" are shortened so the label still fits.
func addrLabel(iface string) string {
	if len(iface)+len(labelSuffix) > maxLabelLen {
		iface = iface[:maxLabelLen-len(labelSuffix)]
	}
	return iface + labelSuffix
}

type linuxPlatform struct {
	// Method values of the netlink handle, not *netlink.Handle itself: the
	// platform is held in an interface, and the linker would then keep all
	// ~200 methods of a *netlink.Handle field (text/template's reflect
	// method lookup is in the program; see cloud/aws/awsclient.go).
	linkList    func() ([]netlink.Link, error)
	closeHandle func()
	socks       map[int]*nl.SocketHandle // NETLINK_ROUTE socket for address requests
	ann         *announcer               // nil when not announcing
	annErr      error                    // why the announcer could not be opened
	log         *slog.Logger

	// added remembers the addresses this process added, for kernels older
	// than 5.18 that drop IFA_PROTO: there an IPv6 VIP has no other mark.
	// It does not survive a crash, so on such kernels an IPv6 VIP left by a
	// crash is reported by Preflight as a host address (exit 2) instead of
	// being removed.
	mu            sync.Mutex
	added         map[addrKey]bool
	warnedNoProto bool
}

type addrKey struct {
	index  int
	prefix netip.Prefix
}

// newPlatform opens the netlink sockets (and, when announcing, the raw
// sockets) in the calling thread's network namespace; they stay bound to it.
func newPlatform(announce bool, log *slog.Logger) (platform, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	if err := h.SetSocketTimeout(netlinkTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	tv := unix.NsecToTimeval(netlinkTimeout.Nanoseconds())
	_ = s.SetSendTimeout(&tv)
	_ = s.SetReceiveTimeout(&tv)
	p := &linuxPlatform{linkList: h.LinkList, closeHandle: h.Close, socks: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}},
		log: log, added: map[addrKey]bool{}}
	if announce {
		// A missing CAP_NET_RAW is reported by Preflight; remember the error
		// for announce instead of failing here.
		p.ann, p.annErr = newAnnouncer()
	}
	return p, nil
}

func (p *linuxPlatform) close() error {
	p.closeHandle()
	for _, s := range p.socks {
		s.Close()
	}
	if p.ann != nil {
		return p.ann.close()
	}
	return nil
}

func (p *linuxPlatform) links() ([]link, error) {
	ls, err := p.linkList()
	if err != nil {
		return nil, err
	}
	out := make([]link, 0, len(ls))
	for _, l := range ls {
		a := l.Attrs()
		out = append(out, link{Name: a.Name, Index: a.Index, HardwareAddr: a.HardwareAddr,
			NoARP: a.RawFlags&unix.IFF_NOARP != 0})
	}
	return out, nil
}

func (p *linuxPlatform) request(typ, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   uint32(unix.SizeofNlMsghdr),
			Type:  uint16(typ),
			Flags: unix.NLM_F_REQUEST | uint16(flags),
		},
		Sockets: p.socks,
	}
}

func (p *linuxPlatform) addrs() ([]hostAddr, error) {
	links, err := p.links()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Index] = l.Name
	}
	var msgs [][]byte
	// A dump interrupted by a concurrent change is retried a few times.
	for range 3 {
		req := p.request(unix.RTM_GETADDR, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
		msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]hostAddr, 0, len(msgs))
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[addrKey]bool{}
	for _, m := range msgs {
		a, err := parseAddrMsg(m, names)
		if errors.Is(err, errNotIPAddr) {
			continue
		}
		if err != nil {
			return nil, err
		}
		k := addrKey{a.LinkIndex, a.Prefix}
		seen[k] = true
		if !a.Ours && p.added[k] {
			a.Ours = true
			if !p.warnedNoProto {
				p.warnedNoProto = true
				p.log.Warn("the kernel does not keep the address protocol (IFA_PROTO, Linux 5.18+): "+
					"IPv6 VIPs left by a crash will not be recognised as lbhc's", "addr", a.Prefix.String())
			}
		}
		out = append(out, a)
	}
	for k := range p.added {
		if !seen[k] {
			delete(p.added, k) // removed by someone: no longer ours
		}
	}
	return out, nil
}

// errNotIPAddr marks an address message of a family other than IPv4/IPv6,
// which the address list skips.
var errNotIPAddr = errors.New("not an IPv4 or IPv6 address")

// parseAddrMsg decodes one RTM_NEWADDR message; errNotIPAddr for families
// other than IPv4/IPv6.
func parseAddrMsg(m []byte, names map[int]string) (hostAddr, error) {
	var a hostAddr
	if len(m) < unix.SizeofIfAddrmsg {
		return a, fmt.Errorf("short RTM_NEWADDR message (%d bytes)", len(m))
	}
	msg := nl.DeserializeIfAddrmsg(m)
	if msg.Family != unix.AF_INET && msg.Family != unix.AF_INET6 {
		return a, errNotIPAddr
	}
	attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfAddrmsg:])
	if err != nil {
		return a, err
	}
	var local, address []byte
	proto := -1
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			local = at.Value
		case unix.IFA_ADDRESS:
			address = at.Value
		case unix.IFA_LABEL:
			a.Label = string(trimNUL(at.Value))
		case ifaProto:
			if len(at.Value) >= 1 {
				proto = int(at.Value[0])
			}
		}
	}
	raw := local // IPv4 (and point-to-point IPv6): IFA_LOCAL is our address
	if raw == nil {
		raw = address
	}
	ip, okIP := netip.AddrFromSlice(raw)
	if !okIP {
		return a, fmt.Errorf("RTM_NEWADDR without a valid address (%d bytes)", len(raw))
	}
	a.Prefix = netip.PrefixFrom(ip, int(msg.Prefixlen))
	a.LinkIndex = int(msg.Index)
	a.LinkName = names[a.LinkIndex]
	a.Ours = proto == lbhcProto || (ip.Is4() && a.LinkName != "" && a.Label == addrLabel(a.LinkName))
	return a, nil
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// addrMsg builds the RTM_NEWADDR request that adds p to l with lbhc's marks:
//   - IFA_PROTO lbhcProto (and for IPv4 the "<iface>:lbhc" label);
//   - IFA_F_NOPREFIXROUTE: the VIP never changes the routing table;
//   - preferred lifetime 0, valid forever: the address is deprecated, so
//     IPv6 source selection (RFC 6724 rule 3) avoids it;
//   - IPv6: IFA_F_NODAD, usable at once (the leader owns it exclusively);
//   - IPv4 host prefixes: scope link, which the kernel never picks as the
//     source of traffic to global destinations (inet_select_addr skips
//     addresses whose scope is narrower than the route's). Longer-lived
//     IPv4 prefixes keep scope global: the kernel rejects a secondary whose
//     scope differs from its primary's, and secondaries are never picked as
//     a source anyway.
func addrMsg(l link, p netip.Prefix, del bool, label string) (*nl.IfAddrmsg, []*nl.RtAttr) {
	family := unix.AF_INET6
	if p.Addr().Is4() {
		family = unix.AF_INET
	}
	msg := nl.NewIfAddrmsg(family)
	msg.Index = uint32(l.Index)
	msg.Prefixlen = uint8(p.Bits())
	ip := p.Addr().AsSlice()
	attrs := []*nl.RtAttr{
		nl.NewRtAttr(unix.IFA_LOCAL, ip),
		nl.NewRtAttr(unix.IFA_ADDRESS, ip),
	}
	if family == unix.AF_INET && label != "" {
		attrs = append(attrs, nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(label)))
	}
	if del {
		return msg, attrs
	}
	flags := uint32(unix.IFA_F_NOPREFIXROUTE)
	if family == unix.AF_INET6 {
		flags |= unix.IFA_F_NODAD
	} else if p.IsSingleIP() {
		msg.Scope = unix.RT_SCOPE_LINK
	}
	msg.Flags = uint8(flags)
	fl := make([]byte, 4)
	binary.NativeEndian.PutUint32(fl, flags)
	ci := make([]byte, unix.SizeofIfaCacheinfo) // prefered, valid, cstamp, tstamp
	binary.NativeEndian.PutUint32(ci[0:4], 0)
	binary.NativeEndian.PutUint32(ci[4:8], infiniteLft)
	attrs = append(attrs,
		nl.NewRtAttr(unix.IFA_FLAGS, fl),
		nl.NewRtAttr(unix.IFA_CACHEINFO, ci),
		nl.NewRtAttr(ifaProto, []byte{lbhcProto}),
	)
	return msg, attrs
}

func (p *linuxPlatform) add(l link, pfx netip.Prefix) error {
	msg, attrs := addrMsg(l, pfx, false, addrLabel(l.Name))
	req := p.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	req.AddData(msg)
	for _, a := range attrs {
		req.AddData(a)
	}
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	if errors.Is(err, unix.EEXIST) {
		// Added concurrently (or listed before it appeared): the caller
		// re-lists on the next reconcile and checks the mark.
		return nil
	}
	if err == nil {
		p.mu.Lock()
		p.added[addrKey{l.Index, pfx}] = true
		p.mu.Unlock()
	}
	return err
}

func (p *linuxPlatform) del(a hostAddr) error {
	if !a.Ours {
		return fmt.Errorf("refusing to remove %s: not added by lbhc", a.Prefix)
	}
	// The label (IPv4) restricts the kernel's match to the labelled address.
	msg, attrs := addrMsg(link{Name: a.LinkName, Index: a.LinkIndex}, a.Prefix, true, a.Label)
	req := p.request(unix.RTM_DELADDR, unix.NLM_F_ACK)
	req.AddData(msg)
	for _, at := range attrs {
		req.AddData(at)
	}
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		err = nil // already gone
	}
	if err == nil {
		p.mu.Lock()
		delete(p.added, addrKey{a.LinkIndex, a.Prefix})
		p.mu.Unlock()
	}
	return err
}

// canManage checks the effective capabilities of the process.
func (p *linuxPlatform) canManage(announce bool) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	return capsMissing(uint64(data[1].Effective)<<32|uint64(data[0].Effective), announce)
}

// capsMissing reports which required capabilities the effective set lacks.
func capsMissing(effective uint64, announce bool) error {
	var missing []string
	if effective&(1<<unix.CAP_NET_ADMIN) == 0 {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	if announce && effective&(1<<unix.CAP_NET_RAW) == 0 {
		missing = append(missing, "CAP_NET_RAW (for gratuitous ARP; or set --garp-count 0)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("missing %v: run as root or grant them (systemd: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW)", missing)
}

func (p *linuxPlatform) announce(l link, pfx netip.Prefix) (int, error) {
	if len(l.HardwareAddr) != 6 || l.NoARP {
		return 0, nil // nothing to announce on links without Ethernet addresses
	}
	if p.ann == nil {
		return 0, fmt.Errorf("raw sockets unavailable: %w", p.annErr)
	}
	return p.ann.send(l, pfx.Addr())
}
