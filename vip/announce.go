package vip

import (
	"encoding/binary"
	"net/netip"
)

// ARP operations (RFC 826).
const (
	arpRequest = 1
	arpReply   = 2
)

// ethMinFrame is the minimum Ethernet frame length without the FCS; shorter
// frames are padded with zeros because not every driver pads them.
const ethMinFrame = 60

// garpFrame builds a broadcast Ethernet frame carrying a gratuitous ARP for
// ip from mac: sender and target protocol address are both ip. A request
// (RFC 5227 ARP announcement) has an all-zero target hardware address; a
// reply repeats the sender's, which is what Linux requires before it lets a
// gratuitous reply override a neighbour entry.
func garpFrame(mac []byte, ip netip.Addr, op uint16) []byte {
	f := make([]byte, ethMinFrame)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:14], 0x0806) // EtherType ARP
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:2], 1)      // hardware type Ethernet
	binary.BigEndian.PutUint16(a[2:4], 0x0800) // protocol type IPv4
	a[4], a[5] = 6, 4                          // address lengths
	binary.BigEndian.PutUint16(a[6:8], op)
	ip4 := ip.As4()
	copy(a[8:14], mac)
	copy(a[14:18], ip4[:])
	if op == arpReply {
		copy(a[18:24], mac)
	}
	copy(a[24:28], ip4[:])
	return f
}

// unsolicitedNA builds the ICMPv6 part of an unsolicited neighbour
// advertisement (RFC 4861 7.2.6) for target with the Override flag and a
// target link-layer address option. The kernel fills in the checksum.
func unsolicitedNA(mac []byte, target netip.Addr) []byte {
	b := make([]byte, 32)
	b[0] = 136  // type: neighbour advertisement
	b[4] = 0x20 // flags: Override (not Router, not Solicited)
	t := target.As16()
	copy(b[8:24], t[:])
	b[24] = 2 // option: target link-layer address
	b[25] = 1 // length in units of 8 bytes
	copy(b[26:32], mac)
	return b
}
