//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// arpCapture reads ARP frames on every interface of a namespace through a
// raw packet socket created there.
type arpCapture struct{ fd int }

func newARPCapture(t *testing.T, ns string) *arpCapture {
	t.Helper()
	const ethPARP = 0x0806
	proto := int(ethPARP>>8 | (ethPARP&0xff)<<8) // network byte order
	var fd int
	var err error
	InNS(t, ns, func() { fd, err = syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, proto) })
	if err != nil {
		t.Fatalf("packet socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return &arpCapture{fd: fd}
}

// announcements returns the arrival times of announcement rounds for addr
// seen during d: ARP frames whose sender and target address are addr
// (gratuitous ARP); a round's frames (request and reply, sent back to
// back) count once.
func (c *arpCapture) announcements(addr netip.Addr, d time.Duration) []time.Time {
	var out []time.Time
	buf := make([]byte, 1500)
	// Frames queued before the call are not part of the window.
	for {
		if _, _, err := syscall.Recvfrom(c.fd, buf, syscall.MSG_DONTWAIT); err != nil {
			break
		}
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		n, _, err := syscall.Recvfrom(c.fd, buf, 0)
		if err != nil || n < 42 {
			continue // timeout (EAGAIN) or a runt
		}
		spa, _ := netip.AddrFromSlice(buf[28:32])
		tpa, _ := netip.AddrFromSlice(buf[38:42])
		if spa != addr || tpa != addr {
			continue
		}
		if now := time.Now(); len(out) == 0 || now.Sub(out[len(out)-1]) > 100*time.Millisecond {
			out = append(out, now)
		}
	}
	return out
}

// TestGARPRefresh: with --garp-refresh 1s a neighbour sees the leader's
// gratuitous ARP for the VIP about every second while it leads; without it
// nothing after the promotion rounds.
func TestGARPRefresh(t *testing.T) {
	net := NewNet(t, "n1", "nb")
	vipAddr := netip.MustParseAddr(fmt.Sprintf("10.77.%d.100", net.subnet))
	capt := newARPCapture(t, net.Host("nb").NS)
	watch := newVIPWatch(t, net.Hosts[:1], vipAddr)
	lease := t.TempDir() + "/garp.lease"
	start := func(extra ...string) *Node {
		n := StartNode(t, net.Host("n1"), append(append([]string{"--lease-file", lease, "--vip", vipAddr.String(),
			"--vip-interface", "eth0", "--garp-count", "1"}, fastTiming...), extra...)...)
		end := time.Now().Add(ttl + 5*time.Second)
		for len(watch.owners()) != 1 {
			if time.Now().After(end) {
				t.Fatal("n1 never took the VIP")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return n
	}

	n := start("--garp-refresh", "1s")
	time.Sleep(300 * time.Millisecond) // past the promotion round
	got := capt.announcements(vipAddr, 4500*time.Millisecond)
	if len(got) < 3 || len(got) > 6 {
		t.Fatalf("with --garp-refresh 1s the neighbour saw %d announcements in 4.5 s, want about 4", len(got))
	}
	for i := 1; i < len(got); i++ {
		if gap := got[i].Sub(got[i-1]); gap < 700*time.Millisecond || gap > 1500*time.Millisecond {
			t.Fatalf("announcements %s apart, want about 1 s (all: %v)", gap, got)
		}
	}
	t.Logf("--garp-refresh 1s: %d announcements in 4.5 s", len(got))
	n.Signal(syscall.SIGTERM)
	if !n.Wait(5 * time.Second) {
		t.Fatal("n1 did not stop")
	}

	start()
	time.Sleep(300 * time.Millisecond)
	if got := capt.announcements(vipAddr, 2500*time.Millisecond); len(got) != 0 {
		t.Fatalf("without --garp-refresh the neighbour saw %d announcements after promotion", len(got))
	}
}
