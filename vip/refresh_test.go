package vip

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestGARPRefreshValidation(t *testing.T) {
	base := Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1", GARPCount: 1}
	for _, tc := range []struct {
		mod  func(*Config)
		flag string
	}{
		{func(c *Config) { c.GARPRefresh = -time.Second }, "garp-refresh"},
		{func(c *Config) { c.GARPRefresh = time.Millisecond }, "garp-refresh"},
		{func(c *Config) { c.GARPRefresh, c.GARPCount = time.Second, 0 }, "garp-refresh"},
		{func(c *Config) { c.GARPRefresh, c.Mode = time.Second, ModeLoopback }, "garp-refresh"},
		{func(c *Config) { c.GARPRefresh = time.Second }, ""},
		{func(c *Config) {}, ""},
	} {
		cfg := base
		tc.mod(&cfg)
		_, err := cfg.validate("lo")
		ce, _ := err.(*ConfigError)
		switch {
		case tc.flag == "" && err != nil:
			t.Errorf("%+v: %v", cfg, err)
		case tc.flag != "" && (ce == nil || ce.Flag != tc.flag):
			t.Errorf("%+v: %v, want an error naming --%s", cfg, err, tc.flag)
		}
	}
}

// With a refresh the leader keeps announcing at that interval after the
// initial rounds, and stops when the VIPs are removed; without one nothing
// is sent after the initial rounds.
func TestGARPRefreshRounds(t *testing.T) {
	ctx := context.Background()
	p := &memPlatform{ls: []link{mEth0, mEth1}}
	m := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1", GARPCount: 2, GARPInterval: 10 * time.Millisecond,
		GARPRefresh: 100 * time.Millisecond}, p)
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(560 * time.Millisecond)
	// 2 initial rounds + a refresh every 100 ms after the second (~5).
	if got := p.announcedCount(); got < 4 || got > 9 {
		t.Errorf("rounds after 560ms = %d, want 2 initial + about 5 refreshes", got)
	}
	if err := m.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	n := p.announcedCount()
	time.Sleep(250 * time.Millisecond)
	if got := p.announcedCount(); got != n {
		t.Errorf("%d rounds sent after Remove", got-n)
	}

	off := &memPlatform{ls: []link{mEth0, mEth1}}
	m2 := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1", GARPCount: 2, GARPInterval: 10 * time.Millisecond}, off)
	if err := m2.Add(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := off.announcedCount(); got != 2 {
		t.Errorf("without a refresh %d rounds, want the 2 initial ones", got)
	}
}
