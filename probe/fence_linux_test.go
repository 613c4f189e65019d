//go:build linux

package probe

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/itest"
)

// The kernel fence makes the handshake itself fail after the deadline,
// even when the process would still say it leads (as a frozen process's
// kernel would, with nobody running the accept-time check).
func TestKernelFenceDropsHandshakesAfterDeadline(t *testing.T) {
	itest.Root(t)
	s, addr := newServer(t, Config{Message: "ACTIVE"})
	if !s.KernelFence() {
		t.Fatal("kernel fence did not load as root")
	}
	deadline := time.Now().Add(400 * time.Millisecond)
	lying := func() bool { return true }
	if err := s.Lead(lying, func() time.Time { return deadline }); err != nil {
		t.Fatal(err)
	}
	if got := tcpAnswer(t, addr); got != "ok:ACTIVE" {
		t.Fatalf("before the deadline: %q", got)
	}
	time.Sleep(time.Until(deadline) + 50*time.Millisecond)
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err == nil {
			c.Close()
			t.Fatal("TCP handshake completed after the deadline")
		}
	}
	// A renewal moves the deadline: the fence opens again.
	deadline = time.Now().Add(time.Hour)
	s.DeadlineMoved()
	if got := tcpAnswer(t, addr); got != "ok:ACTIVE" {
		t.Fatalf("after the deadline moved: %q", got)
	}
	s.Follow()
}

func TestFenceProgramShape(t *testing.T) {
	p := fenceProgram(7)
	if len(p) != 15 {
		t.Fatalf("program has %d instructions", len(p))
	}
	// The map load is a two-slot ld_imm64 with the pseudo map fd.
	if p[5].code != 0x18 || p[5].imm != 7 || p[5].regs>>4 != 1 || p[6] != (bpfInsn{}) {
		t.Fatalf("map load %+v %+v", p[5], p[6])
	}
	// Both branches land on the drop block.
	if 8+1+int(p[8].off) != 13 || 10+1+int(p[10].off) != 13 {
		t.Fatal("branch offsets do not reach the drop block")
	}
}

// With --probe-allow, the kernel fence drops other sources' SYNs: no
// handshake at all, while the allowed source is answered.
func TestKernelFenceSourceFilter(t *testing.T) {
	itest.Root(t)
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		addr  string
		ok    []string
		no    []string
	}{
		{"v4", []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16"), netip.MustParsePrefix("127.0.0.2/32")}, "127.0.0.1",
			[]string{"127.0.0.2"}, []string{"127.0.0.1", "127.0.0.3"}},
		{"v4 range", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/30")}, "127.0.0.1",
			[]string{"127.0.0.2", "127.0.0.3"}, []string{"127.0.0.4"}},
		{"v6 only", []netip.Prefix{netip.MustParsePrefix("::1/128")}, "::",
			[]string{"::1"}, []string{"127.0.0.1"}},
		{"v6 prefix", []netip.Prefix{netip.MustParsePrefix("::/127"), netip.MustParsePrefix("127.0.0.5/32")}, "::",
			[]string{"::1", "127.0.0.5"}, []string{"127.0.0.6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := newServer(t, Config{Message: "ACTIVE", Address: tc.addr, Allow: tc.allow})
			if !s.KernelFence() {
				t.Fatal("kernel fence did not load as root")
			}
			if err := s.Lead(always, nil); err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(addr)
			for _, src := range tc.ok {
				dst := "127.0.0.1"
				if net.ParseIP(src).To4() == nil {
					dst = "::1"
				}
				if got := dialFrom(t, src, net.JoinHostPort(dst, port)); got != "ok:ACTIVE" {
					t.Errorf("from %s: %q; want the answer", src, got)
				}
			}
			for _, src := range tc.no {
				if got := dialFrom(t, src, net.JoinHostPort("127.0.0.1", port)); got != "no handshake" {
					t.Errorf("from %s: %q; want no handshake (dropped in the kernel)", src, got)
				}
			}
			s.Follow()
		})
	}
}

// bpfFDs counts this process's open eBPF program and map descriptors.
func bpfFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "anon_inode:bpf-") {
			n++
		}
	}
	return n
}

// Close releases the fence's program and map descriptors (Follow keeps
// them for the next term), and a closed server refuses to lead.
func TestCloseReleasesKernelFence(t *testing.T) {
	itest.Root(t)
	before := bpfFDs(t)
	s, addr := newServer(t, Config{Message: "ACTIVE"})
	if !s.KernelFence() {
		t.Fatal("kernel fence did not load as root")
	}
	if got := bpfFDs(t); got != before+2 {
		t.Fatalf("bpf descriptors after New: %d, want %d (program and map)", got, before+2)
	}
	lead := func() bool { return true }
	if err := s.Lead(lead, nil); err != nil {
		t.Fatal(err)
	}
	if got := tcpAnswer(t, addr); got != "ok:ACTIVE" {
		t.Fatalf("leader answered %q", got)
	}
	s.Follow()
	if got := bpfFDs(t); got != before+2 {
		t.Fatalf("bpf descriptors after Follow: %d, want %d (kept for the next term)", got, before+2)
	}
	if err := s.Lead(lead, nil); err != nil {
		t.Fatalf("Lead after Follow: %v", err)
	}
	s.Close()
	if got := bpfFDs(t); got != before {
		t.Fatalf("bpf descriptors after Close: %d, want %d", got, before)
	}
	if err := s.Lead(lead, nil); err == nil {
		t.Fatal("Lead after Close succeeded")
	}
	s.Close() // twice is harmless
}
