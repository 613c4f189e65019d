package vip

import (
	"net/netip"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/itest"
)

// New on the real platform closes its netlink and raw sockets when a later
// step (here: registering the metrics) fails.
func TestNewReleasesSocketsOnFailure(t *testing.T) {
	itest.Root(t) // the raw announcement sockets need CAP_NET_RAW
	cfg := Config{Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}, Interface: "lo", GARPCount: 1}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	// One manager built and closed first, so that what the runtime opens
	// once (its poller) is already open when counting.
	m, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	before := fds()
	reg := prometheus.NewRegistry()
	kept, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	open := fds()
	if open <= before {
		t.Fatalf("a manager opened no descriptors (%d before, %d after): the test cannot see a leak", before, open)
	}
	if _, err := New(cfg, nil, reg); err == nil {
		t.Fatal("second New on the same registry succeeded")
	}
	if got := fds(); got != open {
		t.Errorf("open descriptors %d after a failed New, want %d (as before it)", got, open)
	}
}
