package probe

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"reflect"
	"syscall"
	"testing"
	"time"
)

func TestParseAllow(t *testing.T) {
	pfx := netip.MustParsePrefix
	got, err := ParseAllow([]string{"168.63.129.16", " 35.191.0.0/16 ,130.211.0.0/22", "", "2001:db8::1/64", "::ffff:10.0.0.0/104"})
	want := []netip.Prefix{pfx("168.63.129.16/32"), pfx("35.191.0.0/16"), pfx("130.211.0.0/22"), pfx("2001:db8::/64"), pfx("10.0.0.0/8")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseAllow = %v, %v; want %v", got, err, want)
	}
	for in, msg := range map[string]string{
		"10.0.0.0/33":   `invalid --probe-allow: "10.0.0.0/33" is not a CIDR like 168.63.129.16/32 or an IP address`,
		"lb.example":    `invalid --probe-allow: "lb.example" is not a CIDR like 168.63.129.16/32 or an IP address`,
		"fe80::1%eth0":  `invalid --probe-allow: "fe80::1%eth0" is not a CIDR like 168.63.129.16/32 or an IP address`,
		"::ffff:0:0/90": `invalid --probe-allow: "::ffff:0:0/90": an IPv4-mapped range needs a prefix length of at least 96`,
	} {
		if _, err := ParseAllow([]string{in}); err == nil || err.Error() != msg {
			t.Errorf("ParseAllow(%q) = %v; want %s", in, err, msg)
		}
	}
}

// The limits are inclusive: exactly maxAllow ranges, and an IPv4-mapped
// range of exactly /96 (all of IPv4), are accepted; one more is refused.
func TestParseAllowBoundaries(t *testing.T) {
	var ranges []string
	for i := range maxAllow {
		ranges = append(ranges, fmt.Sprintf("10.0.%d.0/24", i))
	}
	if got, err := ParseAllow(ranges); err != nil || len(got) != maxAllow {
		t.Fatalf("%d ranges: %d parsed, err %v; want all accepted", maxAllow, len(got), err)
	}
	msg := fmt.Sprintf("invalid --probe-allow: %d ranges given, at most %d are supported", maxAllow+1, maxAllow)
	if _, err := ParseAllow(append(ranges, "10.1.0.0/24")); err == nil || err.Error() != msg {
		t.Fatalf("%d ranges: err %v; want %s", maxAllow+1, err, msg)
	}
	got, err := ParseAllow([]string{"::ffff:0.0.0.0/96"})
	if want := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("::ffff:0.0.0.0/96 = %v, %v; want %v", got, err, want)
	}
}

// dialFrom connects to addr from the local address src (an address of
// the loopback net) and reads the answer: "ok:<bytes>", "reset" or
// "no handshake".
func dialFrom(t *testing.T, src, addr string) string {
	t.Helper()
	d := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return "reset" // on loopback the reset can beat connect's return
	}
	if err != nil {
		return "no handshake"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || len(b) == 0 {
		return "reset"
	}
	return "ok:" + string(b)
}

// Without the kernel fence the accept path refuses other sources: their
// connection is reset without the probe message.
func TestProbeAllowAcceptPath(t *testing.T) {
	s, addr := newServer(t, Config{Message: "ACTIVE", NoKernelFence: true,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	if err := s.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	if got := dialFrom(t, "127.0.0.2", addr); got != "ok:ACTIVE" {
		t.Fatalf("allowed source: %q", got)
	}
	if got := dialFrom(t, "127.0.0.3", addr); got != "reset" {
		t.Fatalf("other source: %q; want reset", got)
	}
	if s.SinceLastProbe() < 0 {
		t.Fatal("negative idle time")
	}
}
