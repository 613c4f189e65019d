package vip

// The Windows address row, kept free of build tags so that its construction
// and decoding are unit-tested on every platform. vip_windows.go passes a
// pointer to it to the IP Helper functions.

import (
	"encoding/binary"
	"net/netip"
)

// mibUnicastIPAddressRow mirrors MIB_UNICASTIPADDRESS_ROW (netioapi.h). The
// padding is explicit so that the layout (80 bytes) is the same on every
// architecture, as in the C headers where NET_LUID and LARGE_INTEGER are
// 8-byte aligned.
type mibUnicastIPAddressRow struct {
	Address            [28]byte // SOCKADDR_INET: SOCKADDR_IN or SOCKADDR_IN6
	_                  [4]byte
	InterfaceLuid      uint64
	InterfaceIndex     uint32
	PrefixOrigin       uint32
	SuffixOrigin       uint32
	ValidLifetime      uint32 // seconds; 0xffffffff = infinite
	PreferredLifetime  uint32 // seconds; 0xffffffff = infinite
	OnLinkPrefixLength uint8
	SkipAsSource       uint8 // BOOLEAN
	_                  [2]byte
	DadState           uint32
	ScopeId            uint32
	CreationTimeStamp  int64
}

// Values from nldef.h / ws2def.h.
const (
	winAFInet             = 2
	winAFInet6            = 23
	winPrefixOriginManual = 1
	winSuffixOriginManual = 1
	winDadStatePreferred  = 4
	winInfiniteLifetime   = 0xffffffff
)

// Windows addresses carry no label, so lbhc marks its own by their
// lifetimes: finite but longer than 127 years (winLbhcLifetime, counting
// down from about 136 years). An administrator's static address is
// infinite (0xffffffff) and DHCP/SLAAC lifetimes are days, so no other
// address has such a lifetime. Together with SkipAsSource this identifies
// lbhc's addresses after a crash.
const (
	winLbhcLifetime    = 0xfffffffe
	winLbhcLifetimeMin = 0xf0000000
)

// fillUnicastRow sets the fields lbhc cares about on a row that
// InitializeUnicastIpAddressEntry has prepared: the address, the interface
// (LUID and index), the on-link prefix length, SkipAsSource (never chosen
// as a source address), manual origins and lbhc's marker lifetimes.
// skipDAD marks the address preferred at once (usable immediately; the
// leader owns the VIP); otherwise Windows runs duplicate address detection,
// which is also how it announces the address on the link.
func fillUnicastRow(r *mibUnicastIPAddressRow, p netip.Prefix, luid uint64, index uint32, skipDAD bool) {
	r.Address = sockaddrInet(p.Addr())
	r.InterfaceLuid = luid
	r.InterfaceIndex = index
	r.OnLinkPrefixLength = uint8(p.Bits())
	r.SkipAsSource = 1
	r.PrefixOrigin = winPrefixOriginManual
	r.SuffixOrigin = winSuffixOriginManual
	r.ValidLifetime = winLbhcLifetime
	r.PreferredLifetime = winLbhcLifetime
	if skipDAD {
		r.DadState = winDadStatePreferred
	}
}

// sockaddrInet encodes a as SOCKADDR_IN (IPv4) or SOCKADDR_IN6 (IPv6):
// family in host (little-endian) order, port 0, then the address.
func sockaddrInet(a netip.Addr) [28]byte {
	var b [28]byte
	if a.Is4() {
		binary.LittleEndian.PutUint16(b[0:2], winAFInet)
		v := a.As4()
		copy(b[4:8], v[:])
		return b
	}
	binary.LittleEndian.PutUint16(b[0:2], winAFInet6)
	v := a.As16()
	copy(b[8:24], v[:]) // after family, port and flow info; scope id at 24
	return b
}

// prefix decodes the row's address and on-link prefix length. ok is false
// for families other than IPv4 and IPv6.
func (r *mibUnicastIPAddressRow) prefix() (p netip.Prefix, ok bool) {
	switch binary.LittleEndian.Uint16(r.Address[0:2]) {
	case winAFInet:
		a := netip.AddrFrom4([4]byte(r.Address[4:8]))
		return netip.PrefixFrom(a, int(r.OnLinkPrefixLength)), r.OnLinkPrefixLength <= 32
	case winAFInet6:
		a := netip.AddrFrom16([16]byte(r.Address[8:24]))
		return netip.PrefixFrom(a, int(r.OnLinkPrefixLength)), r.OnLinkPrefixLength <= 128
	}
	return p, false
}

// lbhcOwned reports whether the row carries lbhc's mark.
func (r *mibUnicastIPAddressRow) lbhcOwned() bool {
	return r.SkipAsSource != 0 &&
		r.ValidLifetime != winInfiniteLifetime && r.ValidLifetime >= winLbhcLifetimeMin
}
