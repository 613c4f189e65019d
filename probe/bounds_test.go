package probe

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Configuration bounds, exactly at the edges: ports 1 and 65535 and one
// connection slot are valid.
func TestConfigBoundsExact(t *testing.T) {
	for _, c := range []Config{{Ports: []int{1}}, {Ports: []int{65535}}, {Ports: []int{1, 65535}}, {Ports: []int{80}, MaxConns: 1}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v, want valid", c, err)
		}
	}
	for _, c := range []Config{{Ports: []int{0}}, {Ports: []int{65536}}, {Ports: []int{-1}}, {Ports: []int{80}, MaxConns: -1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// The listen backlog defaults to 4 without the kernel fence (a frozen
// process's kernel completes at most about that many handshakes); an
// explicit value is kept.
func TestBacklogDefault(t *testing.T) {
	s, _ := newServer(t, Config{NoKernelFence: true})
	if b := s.Config().Backlog; b != 4 {
		t.Fatalf("backlog %d without the kernel fence, want 4", b)
	}
	s, _ = newServer(t, Config{NoKernelFence: true, Backlog: 7})
	if b := s.Config().Backlog; b != 7 {
		t.Fatalf("explicit backlog 7 became %d", b)
	}
}

// With MaxConns connections in flight the next one evicts the oldest, not
// one later; answered probes are counted by result.
func TestEvictionAtExactlyMaxConns(t *testing.T) {
	port := freePort(t)
	s, addr := newServer(t, Config{Protocol: "http", Ports: []int{port}, MaxConns: 2, Timeout: 30 * time.Second})
	if err := s.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		time.Sleep(20 * time.Millisecond) // accepted in order
	}
	_ = conns[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conns[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("oldest connection got data instead of being evicted")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("oldest connection not evicted when the third of two slots arrived")
	}
	if code, _ := httpGet(t, addr, "GET"); code != 200 {
		t.Fatalf("probe: %d", code)
	}
	p := strconv.Itoa(port)
	for end := time.Now().Add(time.Second); testutil.ToFloat64(s.answered.WithLabelValues(p, "healthy")) < 1 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if n := testutil.ToFloat64(s.answered.WithLabelValues(p, "healthy")); n != 1 {
		t.Fatalf("healthy answers counted %v, want 1", n)
	}
	if n := testutil.ToFloat64(s.answered.WithLabelValues(p, "evicted")); n < 1 {
		t.Fatalf("evictions counted %v, want at least 1", n)
	}
}
