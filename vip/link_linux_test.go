package vip

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The watcher reports the VIP interface's state at once, then carrier loss
// when the neighbour's end goes down and its return; other links are
// ignored. Reannounce re-adds a VIP that went missing.
func TestNetnsWatchLink(t *testing.T) {
	n := newTestNet(t)
	m := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4}, Interface: n.nodeIf, Mode: ModeNIC, GARPCount: 1}, prometheus.NewRegistry())
	var s *linkSub
	var err error
	inNS(t, n.node, func() { s, err = subscribeLink() })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan bool, 8)
	done := make(chan error, 1)
	go func() { done <- m.linkLoop(ctx, s, out) }()
	defer func() { cancel(); <-done }()
	want := func(up bool) {
		t.Helper()
		select {
		case got := <-out:
			if got != up {
				t.Fatalf("link up = %v, want %v", got, up)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("no link state (want up=%v)", up)
		}
	}
	want(true)
	run(t, "ip", "-n", n.node, "link", "set", "lo", "down") // another link: ignored
	run(t, "ip", "-n", n.peer, "link", "set", n.peerIf, "down")
	want(false)
	run(t, "ip", "-n", n.peer, "link", "set", n.peerIf, "up")
	want(true)
	run(t, "ip", "-n", n.node, "link", "set", n.nodeIf, "down")
	want(false)
	run(t, "ip", "-n", n.node, "link", "set", n.nodeIf, "up")
	want(true)

	bg := context.Background()
	if err := m.Reannounce(bg); err != nil {
		t.Fatal(err)
	}
	if _, ok := addrsOn(t, n.node, n.nodeIf)["192.0.2.10/32"]; ok {
		t.Fatal("Reannounce added a VIP while not leading")
	}
	if err := m.Add(bg); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "-n", n.node, "addr", "del", "192.0.2.10/32", "dev", n.nodeIf)
	if err := m.Reannounce(bg); err != nil {
		t.Fatal(err)
	}
	if _, ok := addrsOn(t, n.node, n.nodeIf)["192.0.2.10/32"]; !ok {
		t.Fatal("Reannounce did not re-add the VIP while leading")
	}
}
