//go:build linux

package e2e

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestProbeAllowUnderFlood: with --probe-allow set to the load balancer's
// address, a flood of 20,000 TCP connections a second from another address
// fails none of the load balancer's probes (10 a second for 5 s, 1 s
// timeout each). The kernel fence drops the flood's SYNs, so they never
// take a slot of the accept queue the real probes need.
func TestProbeAllowUnderFlood(t *testing.T) {
	n := NewNet(t, "node", "lb", "bad")
	node, lb, bad := n.Host("node"), n.Host("lb"), n.Host("bad")
	const port = 26001
	proc := StartNode(t, node, "--election", "none", "--probe-port", "26001", "--probe-allow", lb.IP+"/32")
	addr := net.JoinHostPort(node.IP, "26001")
	dialLB := dialer(t, lb.NS)
	deadline := time.Now().Add(10 * time.Second)
	for probeOnce(dialLB, addr, time.Second) != "node" {
		if time.Now().After(deadline) {
			t.Fatal("the node never answered the load balancer's probe")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s, err := proc.Status(); err != nil || !s.Probe.KernelFence {
		t.Fatalf("status %+v, %v: want the kernel fence loaded (it carries the source filter)", s.Probe, err)
	}

	const (
		rate     = 20000 // connections a second
		duration = 5 * time.Second
	)
	var sent atomic.Int64
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		runtime.LockOSThread() // left locked: the thread stays in bad's namespace and is discarded
		h, err := netns.GetFromName(bad.NS)
		if err != nil {
			t.Errorf("flood: %v", err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			t.Errorf("flood: %v", err)
			return
		}
		sent.Store(flood(t, node.IP, port, rate, duration))
	}()

	var probes, failed int
	start := time.Now()
	for time.Since(start) < duration {
		probes++
		if who := probeOnce(dialLB, addr, time.Second); who != "node" {
			failed++
			t.Logf("probe %d at %s failed", probes, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
	}
	<-floodDone
	got := float64(sent.Load()) / duration.Seconds()
	t.Logf("flood: %d connection attempts in %s (%.0f/s); real probes: %d, failed: %d", sent.Load(), duration, got, probes, failed)
	if got < rate/2 {
		t.Fatalf("the flood reached only %.0f connections/s (want about %d): the test did not flood", got, rate)
	}
	if failed != 0 {
		t.Fatalf("%d of %d load balancer probes failed during the flood", failed, probes)
	}
}

// flood opens TCP connections to ip:port at rate a second for d from the
// calling thread's namespace: non-blocking connects (the kernel completes
// the handshakes), each kept for up to 2,000 later attempts and then
// closed. It returns the number of attempts.
func flood(t *testing.T, ip string, port, rate int, d time.Duration) int64 {
	dst := &unix.SockaddrInet4{Port: port}
	copy(dst.Addr[:], net.ParseIP(ip).To4())
	ring := make([]int, 0, 2000)
	next := 0
	var n int64
	start := time.Now()
	for time.Since(start) < d {
		// Pace in 1 ms slices so the rate holds over the whole duration.
		due := int64(time.Since(start).Seconds() * float64(rate))
		for n < due {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Errorf("flood socket: %v", err)
				return n
			}
			_ = unix.Connect(fd, dst) // EINPROGRESS
			n++
			if len(ring) < cap(ring) {
				ring = append(ring, fd)
			} else {
				unix.Close(ring[next])
				ring[next] = fd
				next = (next + 1) % len(ring)
			}
		}
		time.Sleep(time.Millisecond)
	}
	for _, fd := range ring {
		unix.Close(fd)
	}
	return n
}
