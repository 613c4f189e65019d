package vip

import (
	"net/netip"
	"testing"
	"unsafe"
)

// The row must match MIB_UNICASTIPADDRESS_ROW byte for byte.
func TestUnicastRowLayout(t *testing.T) {
	var r mibUnicastIPAddressRow
	offsets := []struct {
		name      string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(r), 80},
		{"InterfaceLuid", unsafe.Offsetof(r.InterfaceLuid), 32},
		{"InterfaceIndex", unsafe.Offsetof(r.InterfaceIndex), 40},
		{"PrefixOrigin", unsafe.Offsetof(r.PrefixOrigin), 44},
		{"SuffixOrigin", unsafe.Offsetof(r.SuffixOrigin), 48},
		{"ValidLifetime", unsafe.Offsetof(r.ValidLifetime), 52},
		{"PreferredLifetime", unsafe.Offsetof(r.PreferredLifetime), 56},
		{"OnLinkPrefixLength", unsafe.Offsetof(r.OnLinkPrefixLength), 60},
		{"SkipAsSource", unsafe.Offsetof(r.SkipAsSource), 61},
		{"DadState", unsafe.Offsetof(r.DadState), 64},
		{"ScopeId", unsafe.Offsetof(r.ScopeId), 68},
		{"CreationTimeStamp", unsafe.Offsetof(r.CreationTimeStamp), 72},
	}
	for _, o := range offsets {
		if o.got != o.want {
			t.Errorf("%s = %d, want %d", o.name, o.got, o.want)
		}
	}
}

func TestFillUnicastRow(t *testing.T) {
	tests := []struct {
		prefix  string
		skipDAD bool
		addr    [28]byte
		dad     uint32
	}{
		{"10.0.0.5/32", true, [28]byte{2, 0, 0, 0, 10, 0, 0, 5}, winDadStatePreferred},
		{"2001:db8::5/128", false, [28]byte{23, 0, 0, 0, 0, 0, 0, 0,
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, 0},
	}
	for _, tt := range tests {
		var r mibUnicastIPAddressRow
		r.ScopeId = 9 // set by InitializeUnicastIpAddressEntry; left alone
		p := netip.MustParsePrefix(tt.prefix)
		fillUnicastRow(&r, p, 0x0006000001000000, 7, tt.skipDAD)
		if r.Address != tt.addr {
			t.Errorf("%s: Address = %v, want %v", tt.prefix, r.Address, tt.addr)
		}
		if r.InterfaceLuid != 0x0006000001000000 || r.InterfaceIndex != 7 || r.OnLinkPrefixLength != uint8(p.Bits()) ||
			r.SkipAsSource != 1 || r.PrefixOrigin != winPrefixOriginManual || r.SuffixOrigin != winSuffixOriginManual ||
			r.DadState != tt.dad || r.ScopeId != 9 {
			t.Errorf("%s: row = %+v", tt.prefix, r)
		}
		if !r.lbhcOwned() {
			t.Errorf("%s: a row lbhc built is not recognised as lbhc's", tt.prefix)
		}
		if got, ok := r.prefix(); !ok || got != p {
			t.Errorf("%s: prefix() = %v, %v", tt.prefix, got, ok)
		}
	}
}

func TestUnicastRowOwnership(t *testing.T) {
	tests := []struct {
		name  string
		skip  uint8
		valid uint32
		want  bool
	}{
		{"lbhc's, just added", 1, winLbhcLifetime, true},
		{"lbhc's, a year later", 1, winLbhcLifetime - 365*24*3600, true},
		{"static, skip as source", 1, winInfiniteLifetime, false},
		{"static", 0, winInfiniteLifetime, false},
		{"DHCP lease", 1, 8 * 24 * 3600, false},
		{"lbhc lifetime without SkipAsSource", 0, winLbhcLifetime, false},
	}
	for _, tt := range tests {
		r := mibUnicastIPAddressRow{SkipAsSource: tt.skip, ValidLifetime: tt.valid}
		if got := r.lbhcOwned(); got != tt.want {
			t.Errorf("%s: lbhcOwned = %v, want %v", tt.name, got, tt.want)
		}
	}
	var r mibUnicastIPAddressRow
	r.Address[0] = 1 // AF_UNIX: not an IP row
	if _, ok := r.prefix(); ok {
		t.Error("prefix() accepted a non-IP family")
	}
}
