package vip

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// announcer sends gratuitous ARP frames through an AF_PACKET socket and
// unsolicited neighbour advertisements through an ICMPv6 raw socket. Both
// sockets are opened once, in the manager's network namespace, and only
// send: the packet socket has protocol 0 (receives nothing) and the ICMPv6
// socket filters out every incoming type.
type announcer struct {
	packet int // AF_PACKET, SOCK_RAW, protocol 0
	icmp6  int // AF_INET6, SOCK_RAW, IPPROTO_ICMPV6; -1 without IPv6
}

func newAnnouncer() (*announcer, error) {
	pfd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening packet socket: %w", err)
	}
	a := &announcer{packet: pfd, icmp6: -1}
	ifd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if errors.Is(err, unix.EAFNOSUPPORT) {
		return a, nil // IPv6 disabled on this host
	}
	if err != nil {
		_ = a.close()
		return nil, fmt.Errorf("opening ICMPv6 socket: %w", err)
	}
	a.icmp6 = ifd
	var block unix.ICMPv6Filter
	for i := range block.Data {
		block.Data[i] = 0xffffffff // a set bit blocks the type
	}
	for _, o := range []struct{ opt, v int }{
		{unix.IPV6_MULTICAST_HOPS, 255}, // RFC 4861: hop limit must be 255
		{unix.IPV6_UNICAST_HOPS, 255},
		{unix.IPV6_MULTICAST_LOOP, 0},
	} {
		if err := unix.SetsockoptInt(ifd, unix.IPPROTO_IPV6, o.opt, o.v); err != nil {
			_ = a.close()
			return nil, fmt.Errorf("configuring ICMPv6 socket: %w", err)
		}
	}
	if err := unix.SetsockoptICMPv6Filter(ifd, unix.IPPROTO_ICMPV6, unix.ICMPV6_FILTER, &block); err != nil {
		_ = a.close()
		return nil, fmt.Errorf("configuring ICMPv6 filter: %w", err)
	}
	return a, nil
}

func (a *announcer) close() error {
	err := unix.Close(a.packet)
	if a.icmp6 >= 0 {
		err = errors.Join(err, unix.Close(a.icmp6))
	}
	return err
}

// send sends one round for ip on l: for IPv4 a gratuitous ARP request and a
// gratuitous ARP reply (equipment differs in which one it honours); for
// IPv6 one unsolicited neighbour advertisement to all nodes (ff02::1) with
// the VIP as source.
func (a *announcer) send(l link, ip netip.Addr) (int, error) {
	if ip.Is4() {
		to := &unix.SockaddrLinklayer{
			Ifindex:  l.Index,
			Protocol: htons(unix.ETH_P_ARP),
			Halen:    6,
			Addr:     [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		}
		n := 0
		for _, op := range []uint16{arpRequest, arpReply} {
			if err := unix.Sendto(a.packet, garpFrame(l.HardwareAddr, ip, op), 0, to); err != nil {
				return n, fmt.Errorf("sending gratuitous ARP on %s: %w", l.Name, err)
			}
			n++
		}
		return n, nil
	}
	if a.icmp6 < 0 {
		return 0, errors.New("IPv6 is not available")
	}
	info := unix.Inet6Pktinfo{Addr: ip.As16(), Ifindex: uint32(l.Index)}
	to := &unix.SockaddrInet6{Addr: netip.MustParseAddr("ff02::1").As16(), ZoneId: uint32(l.Index)}
	if err := unix.Sendmsg(a.icmp6, unsolicitedNA(l.HardwareAddr, ip), unix.PktInfo6(&info), to, 0); err != nil {
		return 0, fmt.Errorf("sending neighbour advertisement on %s: %w", l.Name, err)
	}
	return 1, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
