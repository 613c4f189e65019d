package vip

import "testing"

func TestLinkUp(t *testing.T) {
	for _, tc := range []struct{ admin, lower, removed, want bool }{
		{true, true, false, true},
		{true, false, false, false}, // no carrier (cable, peer down)
		{false, true, false, false}, // ip link set down
		{true, true, true, false},   // interface deleted
	} {
		if got := linkUp(tc.admin, tc.lower, tc.removed); got != tc.want {
			t.Errorf("linkUp(%v, %v, %v) = %v", tc.admin, tc.lower, tc.removed, got)
		}
	}
}
