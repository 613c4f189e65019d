package probe_test

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/lbhc/lbhc/probe"
)

// benchServer starts a leading probe server on a free loopback port.
// valid stands in for election's Lease.Valid, whose own cost is measured
// in election's BenchmarkLeaseValid.
func benchServer(b *testing.B, protocol string, backlog int) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s, err := probe.New(probe.Config{
		Protocol: protocol, Address: "127.0.0.1", Ports: []int{port},
		Message: "ACTIVE", Backlog: backlog,
	}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(time.Hour)
	if err := s.Lead(func() bool { return time.Now().Before(deadline) }, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// probeOnce is one load-balancer probe: connect, (http: request), read the
// answer until the server closes, close. It returns the answer.
func probeOnce(addr, req string) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if req != "" {
		if _, err := io.WriteString(c, req); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(c)
}

const benchHTTPRequest = "GET /health HTTP/1.1\r\nHost: probe\r\n\r\n"

// BenchmarkProbeTCP is the accept -> leadership check -> answer -> close
// path of one TCP probe over real loopback sockets, one probe at a time
// (the default backlog of 4 is enough for a single client).
func BenchmarkProbeTCP(b *testing.B) {
	addr := benchServer(b, "tcp", 0)
	for b.Loop() {
		got, err := probeOnce(addr, "")
		if err != nil {
			b.Fatal(err)
		}
		if string(got) != "ACTIVE" {
			b.Fatalf("answer %q, want ACTIVE", got)
		}
	}
}

// BenchmarkProbeTCPParallel runs GOMAXPROCS concurrent probers; backlog 128
// so the kernel's accept queue, not the accept path, is out of the way.
func BenchmarkProbeTCPParallel(b *testing.B) {
	addr := benchServer(b, "tcp", 128)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			got, err := probeOnce(addr, "")
			if err != nil {
				b.Error(err)
				return
			}
			if string(got) != "ACTIVE" {
				b.Errorf("answer %q, want ACTIVE", got)
				return
			}
		}
	})
}

// BenchmarkProbeHTTP: one GET per connection answered 200.
func BenchmarkProbeHTTP(b *testing.B) {
	addr := benchServer(b, "http", 0)
	for b.Loop() {
		got, err := probeOnce(addr, benchHTTPRequest)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) < 12 || string(got[:12]) != "HTTP/1.1 200" {
			b.Fatalf("answer %q, want HTTP/1.1 200", got)
		}
	}
}
