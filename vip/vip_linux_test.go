package vip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func TestAddrLabel(t *testing.T) {
	tests := []struct{ iface, want string }{
		{"eth1", "eth1:lbhc"},
		{"lo", "lo:lbhc"},
		{"enp0s31f6", "enp0s31f6:lbhc"},
		{"enp0s31f6x", "enp0s31f6x:lbhc"},      // exactly 15
		{"enp129s0f1np1", "enp129s0f1:lbhc"},   // shortened to fit
		{"verylonginterf1", "verylongin:lbhc"}, // 15-byte name
	}
	for _, tt := range tests {
		got := addrLabel(tt.iface)
		if got != tt.want || len(got) > maxLabelLen {
			t.Errorf("addrLabel(%q) = %q, want %q", tt.iface, got, tt.want)
		}
	}
}

// addrMessage serialises an RTM_NEWADDR body as the kernel sends it.
func addrMessage(family int, prefixLen uint8, index uint32, attrs ...*nl.RtAttr) []byte {
	msg := nl.NewIfAddrmsg(family)
	msg.Prefixlen = prefixLen
	msg.Index = index
	b := msg.Serialize()
	for _, a := range attrs {
		b = append(b, a.Serialize()...)
	}
	return b
}

func TestParseAddrMsg(t *testing.T) {
	names := map[int]string{3: "eth1"}
	v4 := []byte{10, 0, 0, 5}
	v6 := netip.MustParseAddr("2001:db8::5").AsSlice()
	tests := []struct {
		name string
		msg  []byte
		want hostAddr
	}{
		{"IPv4 with lbhc label", addrMessage(unix.AF_INET, 32, 3,
			nl.NewRtAttr(unix.IFA_ADDRESS, v4), nl.NewRtAttr(unix.IFA_LOCAL, v4), nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated("eth1:lbhc"))),
			hostAddr{Prefix: netip.MustParsePrefix("10.0.0.5/32"), LinkIndex: 3, LinkName: "eth1", Ours: true, Label: "eth1:lbhc"}},
		{"IPv4 with lbhc protocol only", addrMessage(unix.AF_INET, 24, 3,
			nl.NewRtAttr(unix.IFA_LOCAL, v4), nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated("eth1")), nl.NewRtAttr(ifaProto, []byte{lbhcProto})),
			hostAddr{Prefix: netip.MustParsePrefix("10.0.0.5/24"), LinkIndex: 3, LinkName: "eth1", Ours: true, Label: "eth1"}},
		{"IPv4 of the host", addrMessage(unix.AF_INET, 24, 3,
			nl.NewRtAttr(unix.IFA_LOCAL, v4), nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated("eth1")), nl.NewRtAttr(ifaProto, []byte{0})),
			hostAddr{Prefix: netip.MustParsePrefix("10.0.0.5/24"), LinkIndex: 3, LinkName: "eth1", Label: "eth1"}},
		{"IPv4 labelled for another interface", addrMessage(unix.AF_INET, 32, 3,
			nl.NewRtAttr(unix.IFA_LOCAL, v4), nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated("eth0:lbhc"))),
			hostAddr{Prefix: netip.MustParsePrefix("10.0.0.5/32"), LinkIndex: 3, LinkName: "eth1", Label: "eth0:lbhc"}},
		{"IPv6 with lbhc protocol", addrMessage(unix.AF_INET6, 128, 3,
			nl.NewRtAttr(unix.IFA_ADDRESS, v6), nl.NewRtAttr(ifaProto, []byte{lbhcProto})),
			hostAddr{Prefix: netip.MustParsePrefix("2001:db8::5/128"), LinkIndex: 3, LinkName: "eth1", Ours: true}},
		{"IPv6 kernel link-local protocol", addrMessage(unix.AF_INET6, 64, 3,
			nl.NewRtAttr(unix.IFA_ADDRESS, v6), nl.NewRtAttr(ifaProto, []byte{3})),
			hostAddr{Prefix: netip.MustParsePrefix("2001:db8::5/64"), LinkIndex: 3, LinkName: "eth1"}},
	}
	for _, tt := range tests {
		got, err := parseAddrMsg(tt.msg, names)
		if err != nil || got != tt.want {
			t.Errorf("%s: parseAddrMsg = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	if _, err := parseAddrMsg([]byte{2, 32}, names); err == nil || !strings.Contains(err.Error(), "short") {
		t.Errorf("short message: %v", err)
	}
	if _, err := parseAddrMsg(addrMessage(unix.AF_INET, 32, 3), names); err == nil || errors.Is(err, errNotIPAddr) {
		t.Error("message without an address accepted")
	}
	if _, err := parseAddrMsg(addrMessage(unix.AF_PACKET, 0, 3), names); !errors.Is(err, errNotIPAddr) {
		t.Errorf("AF_PACKET message: err %v, want errNotIPAddr", err)
	}
}

func TestAddrMsg(t *testing.T) {
	eth1 := link{Name: "eth1", Index: 3}
	tests := []struct {
		prefix string
		scope  uint8
		flags  uint32
		label  bool
	}{
		{"10.0.0.5/32", unix.RT_SCOPE_LINK, unix.IFA_F_NOPREFIXROUTE, true},
		{"10.0.0.5/24", unix.RT_SCOPE_UNIVERSE, unix.IFA_F_NOPREFIXROUTE, true},
		{"2001:db8::5/128", unix.RT_SCOPE_UNIVERSE, unix.IFA_F_NOPREFIXROUTE | unix.IFA_F_NODAD, false},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		msg, attrs := addrMsg(eth1, p, false, "eth1:lbhc")
		if msg.Index != 3 || int(msg.Prefixlen) != p.Bits() || msg.Scope != tt.scope {
			t.Errorf("%s: ifaddrmsg = %+v", tt.prefix, msg.IfAddrmsg)
		}
		got := map[uint16][]byte{}
		for _, a := range attrs {
			got[a.Type] = a.Data
		}
		if string(got[unix.IFA_LOCAL]) != string(p.Addr().AsSlice()) {
			t.Errorf("%s: IFA_LOCAL = %v", tt.prefix, got[unix.IFA_LOCAL])
		}
		if f := got[unix.IFA_FLAGS]; len(f) != 4 || nl.NativeEndian().Uint32(f) != tt.flags {
			t.Errorf("%s: IFA_FLAGS = %v, want %#x", tt.prefix, f, tt.flags)
		}
		if ci := got[unix.IFA_CACHEINFO]; len(ci) != unix.SizeofIfaCacheinfo ||
			nl.NativeEndian().Uint32(ci[0:4]) != 0 || nl.NativeEndian().Uint32(ci[4:8]) != infiniteLft {
			t.Errorf("%s: IFA_CACHEINFO = %v, want preferred 0, valid forever", tt.prefix, ci)
		}
		if pr := got[ifaProto]; len(pr) != 1 || pr[0] != lbhcProto {
			t.Errorf("%s: IFA_PROTO = %v", tt.prefix, pr)
		}
		if _, ok := got[unix.IFA_LABEL]; ok != tt.label {
			t.Errorf("%s: label present %v, want %v", tt.prefix, ok, tt.label)
		}
		_, del := addrMsg(eth1, p, true, "eth1:lbhc")
		for _, a := range del {
			if a.Type == unix.IFA_FLAGS || a.Type == unix.IFA_CACHEINFO || a.Type == ifaProto {
				t.Errorf("%s: delete request carries attribute %d", tt.prefix, a.Type)
			}
		}
	}
}

func TestCapsMissing(t *testing.T) {
	admin, raw := uint64(1)<<unix.CAP_NET_ADMIN, uint64(1)<<unix.CAP_NET_RAW
	tests := []struct {
		eff      uint64
		announce bool
		want     string
	}{
		{admin | raw, true, ""},
		{admin, false, ""},
		{admin, true, "missing [CAP_NET_RAW (for gratuitous ARP; or set --garp-count 0)]"},
		{raw, false, "missing [CAP_NET_ADMIN]"},
		{0, true, "missing [CAP_NET_ADMIN CAP_NET_RAW (for gratuitous ARP; or set --garp-count 0)]"},
	}
	for _, tt := range tests {
		err := capsMissing(tt.eff, tt.announce)
		if tt.want == "" {
			if err != nil {
				t.Errorf("capsMissing(%#x, %v) = %v", tt.eff, tt.announce, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tt.want+": run as root") {
			t.Errorf("capsMissing(%#x, %v) = %v, want %s", tt.eff, tt.announce, err, tt.want)
		}
	}
}
