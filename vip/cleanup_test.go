package vip

import (
	"context"
	"net/netip"
	"slices"
	"testing"
)

func TestRemoveMarked(t *testing.T) {
	other := netip.MustParsePrefix("10.0.0.6/32")
	ours := func(p netip.Prefix) hostAddr { return hostAddr{Prefix: p, LinkIndex: 3, LinkName: "eth1", Ours: true} }
	foreign := hostAddr{Prefix: netip.MustParsePrefix("10.0.0.7/32"), LinkIndex: 3, LinkName: "eth1"}
	for _, tc := range []struct {
		name string
		only []netip.Prefix
		have []hostAddr
		want []hostAddr // left on the host
	}{
		{"nothing there", nil, []hostAddr{hostIP}, []hostAddr{hostIP}},
		{"all marked", nil, []hostAddr{hostIP, ours(mVIP), foreign, ours(other)}, []hostAddr{hostIP, foreign}},
		{"one instance's VIPs", []netip.Prefix{mVIP}, []hostAddr{hostIP, ours(mVIP), ours(other)}, []hostAddr{hostIP, ours(other)}},
		{"an unmarked copy of the VIP stays", []netip.Prefix{mVIP}, []hostAddr{{Prefix: mVIP, LinkIndex: 2, LinkName: "eth0"}}, []hostAddr{{Prefix: mVIP, LinkIndex: 2, LinkName: "eth0"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &memPlatform{ls: []link{mEth0, mEth1}, as: slices.Clone(tc.have)}
			removed, err := removeMarked(context.Background(), p, tc.only, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.as, tc.want) {
				t.Fatalf("left %v, want %v", p.as, tc.want)
			}
			if len(removed) != len(tc.have)-len(tc.want) {
				t.Fatalf("reported %v", removed)
			}
		})
	}
}
