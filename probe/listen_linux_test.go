//go:build linux

package probe

import "testing"

// An empty host means every address, IPv4 and IPv6 (dual stack).
func TestAddrOrAny(t *testing.T) {
	for in, want := range map[string]string{
		":26001":          "[::]:26001",
		"127.0.0.1:26001": "127.0.0.1:26001",
		"[::1]:26001":     "[::1]:26001",
		"bad":             "bad",
	} {
		if got := addrOrAny(in); got != want {
			t.Errorf("addrOrAny(%q) = %q, want %q", in, got, want)
		}
	}
}
