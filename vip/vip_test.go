package vip

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestParseAddrs(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		in   []string
		want []netip.Prefix
	}{
		{nil, nil},
		{[]string{"10.0.0.5"}, []netip.Prefix{pfx("10.0.0.5/32")}},
		{[]string{"2001:db8::5"}, []netip.Prefix{pfx("2001:db8::5/128")}},
		{[]string{" 10.0.0.5 , 10.0.0.6", "", "2001:db8::5/128"}, []netip.Prefix{pfx("10.0.0.5/32"), pfx("10.0.0.6/32"), pfx("2001:db8::5/128")}},
		{[]string{"10.0.0.5/32"}, []netip.Prefix{pfx("10.0.0.5/32")}},
	}
	for _, tt := range tests {
		got, err := ParseAddrs(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAddrs(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseAddrsErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"vip.example.com", `invalid --vip: "vip.example.com" is not an IP address or address/prefix-length`},
		{"10.0.0.5/33", `invalid --vip: "10.0.0.5/33" is not an IP address or address/prefix-length`},
		{"fe80::1%eth0", `invalid --vip: "fe80::1%eth0": zoned addresses are not supported`},
		{"::ffff:10.0.0.5", `invalid --vip: "::ffff:10.0.0.5" is an IPv4-mapped IPv6 address; give the IPv4 form`},
		{"0.0.0.0", `invalid --vip: "0.0.0.0" is the unspecified address`},
		{"::", `invalid --vip: "::" is the unspecified address`},
		{"127.0.0.2", `invalid --vip: "127.0.0.2" is a loopback address`},
		{"224.0.0.18", `invalid --vip: "224.0.0.18" is a multicast address`},
		{"169.254.1.1", `invalid --vip: "169.254.1.1" is a link-local address`},
		{"fe80::1", `invalid --vip: "fe80::1" is a link-local address`},
		{"10.0.0.5/0", `invalid --vip: "10.0.0.5/0": a VIP is one address (/32), not a range`},
		{"10.0.0.4/31", `invalid --vip: "10.0.0.4/31": a VIP is one address (/32), not a range`},
		{"10.0.0.5/24", `invalid --vip: "10.0.0.5/24": a VIP is one address (/32), not a range`},
		{"2001:db8::5/64", `invalid --vip: "2001:db8::5/64": a VIP is one address (/128), not a range`},
		{"10.0.0.5,10.0.0.5/32", `invalid --vip: 10.0.0.5 listed twice ("10.0.0.5" and "10.0.0.5/32")`},
	}
	for _, tt := range tests {
		_, err := ParseAddrs([]string{tt.in})
		var ce *ConfigError
		if err == nil || err.Error() != tt.want || !errors.As(err, &ce) || ce.ExitCode() != 2 {
			t.Errorf("ParseAddrs(%q) error = %v, want %s (exit 2)", tt.in, err, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	v := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "invalid --vip: no address given"},
		{Config{Addrs: append(v, v...), Interface: "eth1"}, "invalid --vip: 10.0.0.5 listed twice"},
		{Config{Addrs: []netip.Prefix{{}}, Interface: "eth1"}, "invalid --vip: invalid prefix invalid Prefix"},
		{Config{Addrs: v, Mode: "bridge"}, `invalid --vip-mode: "bridge" is not one of nic, loopback`},
		{Config{Addrs: v}, "invalid --vip-interface: required with --vip-mode nic"},
		{Config{Addrs: v, Interface: "eth1", GARPCount: -1}, "invalid --garp-count: -1 is negative"},
		{Config{Addrs: v, Interface: "eth1", GARPCount: 2}, "invalid --garp-interval: 0s must be positive when --garp-count is above 1"},
	}
	for _, tt := range tests {
		_, err := tt.cfg.validate("lo")
		if err == nil || err.Error() != tt.want {
			t.Errorf("validate(%+v) = %v, want %s", tt.cfg, err, tt.want)
		}
	}
	got, err := Config{Addrs: v, Mode: ModeLoopback, GARPCount: 1}.validate("lo")
	if err != nil || got.Interface != "lo" || got.Mode != ModeLoopback {
		t.Errorf("loopback default: %+v, %v", got, err)
	}
	got, err = Config{Addrs: v, Interface: "eth1"}.validate("lo")
	if err != nil || got.Mode != ModeNIC {
		t.Errorf("default mode: %+v, %v", got, err)
	}
}

func TestFindLink(t *testing.T) {
	links := []link{{Name: "lo", Index: 1}, {Name: "Ethernet 2", Index: 7}, {Name: "eth1", Index: 12}}
	tests := []struct {
		name              string
		byIndex, foldCase bool
		want              int
		err               string
	}{
		{name: "eth1", want: 12},
		{name: "ETH1", err: `invalid --vip-interface: interface "ETH1" not found (have: lo, Ethernet 2, eth1)`},
		{name: "ETH1", foldCase: true, want: 12},
		{name: "ethernet 2", foldCase: true, byIndex: true, want: 7},
		{name: "7", byIndex: true, foldCase: true, want: 7},
		{name: "7", err: `invalid --vip-interface: interface "7" not found (have: lo, Ethernet 2, eth1)`},
		{name: "eth9", byIndex: true, err: `invalid --vip-interface: interface "eth9" not found (have: lo, Ethernet 2, eth1)`},
	}
	for _, tt := range tests {
		l, err := findLink(links, tt.name, tt.byIndex, tt.foldCase)
		if tt.err != "" {
			var ce *ConfigError
			if err == nil || err.Error() != tt.err || !errors.As(err, &ce) {
				t.Errorf("findLink(%q) error = %v, want %s", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || l.Index != tt.want {
			t.Errorf("findLink(%q) = %+v, %v; want index %d", tt.name, l, err, tt.want)
		}
	}
}

func TestPlanAdd(t *testing.T) {
	p := netip.MustParsePrefix
	eth1 := link{Name: "eth1", Index: 3}
	vips := []netip.Prefix{p("10.0.0.5/32"), p("10.0.0.6/32"), p("10.0.0.7/32"), p("10.0.0.8/32"), p("10.0.0.9/32")}
	addrs := []hostAddr{
		{Prefix: p("10.0.0.1/24"), LinkIndex: 3, LinkName: "eth1"},             // unrelated host address
		{Prefix: p("10.0.0.5/32"), LinkIndex: 3, LinkName: "eth1", Ours: true}, // already there
		{Prefix: p("10.0.0.6/32"), LinkIndex: 2, LinkName: "eth0", Ours: true}, // ours on another link
		{Prefix: p("10.0.0.7/32"), LinkIndex: 3, LinkName: "eth1"},             // foreign
		{Prefix: p("10.0.0.8/24"), LinkIndex: 3, LinkName: "eth1", Ours: true}, // ours, other length
	}
	got := planAdd(vips, eth1, addrs)
	want := addPlan{
		ok:      []netip.Prefix{p("10.0.0.5/32")},
		add:     []netip.Prefix{p("10.0.0.6/32"), p("10.0.0.8/32"), p("10.0.0.9/32")},
		del:     []hostAddr{addrs[2], addrs[4]},
		foreign: []hostAddr{addrs[3]},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("planAdd =\n%+v\nwant\n%+v", got, want)
	}
}

func TestForeignConflict(t *testing.T) {
	p := netip.MustParsePrefix
	vips := []netip.Prefix{p("10.0.0.5/32")}
	if err := foreignConflict(vips, []hostAddr{{Prefix: p("10.0.0.5/32"), LinkName: "eth1", Ours: true}}); err != nil {
		t.Errorf("own address reported: %v", err)
	}
	err := foreignConflict(vips, []hostAddr{{Prefix: p("10.0.0.5/24"), LinkName: "eth0"}})
	want := "invalid --vip: 10.0.0.5 is already an address of this host (10.0.0.5/24 on eth0, not added by lbhc)"
	if err == nil || err.Error() != want {
		t.Errorf("foreignConflict = %v, want %s", err, want)
	}
}
