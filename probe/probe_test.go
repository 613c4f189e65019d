package probe

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1"
	}
	if len(cfg.Ports) == 0 {
		cfg.Ports = []int{freePort(t)}
	}
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Ports[0]))
}

// tcpAnswer connects and reads until close; "refused" when the connection
// is refused or reset.
func tcpAnswer(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "refused"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		return "reset"
	}
	return "ok:" + string(b)
}

func always() bool { return true }

func TestTCPLeaderAnswersFollowerRefuses(t *testing.T) {
	s, addr := newServer(t, Config{Message: "ACTIVE"})
	if got := tcpAnswer(t, addr); got != "refused" {
		t.Fatalf("follower: %q, want refused", got)
	}
	if err := s.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	if got := tcpAnswer(t, addr); got != "ok:ACTIVE" {
		t.Fatalf("leader: %q", got)
	}
	s.Follow()
	if got := tcpAnswer(t, addr); got != "refused" {
		t.Fatalf("after demotion: %q, want refused", got)
	}
	// Rebinding right after a demotion must not fail on TIME_WAIT: the
	// answered connections above were closed by the server first.
	for i := range 3 {
		if err := s.Lead(always, nil); err != nil {
			t.Fatalf("rebind %d: %v", i, err)
		}
		if got := tcpAnswer(t, addr); got != "ok:ACTIVE" {
			t.Fatalf("leader after rebind %d: %q", i, got)
		}
		s.Follow()
	}
}

func TestAcceptChecksDeadlineOnEveryConnection(t *testing.T) {
	s, addr := newServer(t, Config{Message: "ACTIVE"})
	var valid atomic.Bool
	valid.Store(true)
	if err := s.Lead(valid.Load, nil); err != nil {
		t.Fatal(err)
	}
	if got := tcpAnswer(t, addr); got != "ok:ACTIVE" {
		t.Fatalf("valid: %q", got)
	}
	// The deadline passed but nobody demoted yet (a late timer, a process
	// that just resumed): the listener is still open, yet no answer.
	valid.Store(false)
	for range 5 {
		if got := tcpAnswer(t, addr); strings.HasPrefix(got, "ok") {
			t.Fatalf("answered after the deadline: %q", got)
		}
	}
}

func TestDemotionClosesInflightConnections(t *testing.T) {
	s, addr := newServer(t, Config{Protocol: "http", Timeout: 10 * time.Second})
	if err := s.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Half a request: the server is waiting for the rest.
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	s.Follow()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Read(make([]byte, 10))
	if err == nil {
		t.Fatal("in-flight connection still open after demotion")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("in-flight connection not closed by demotion (read timed out)")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("connection closed only after %s", d)
	}
}

func httpGet(t *testing.T, addr, method string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, "refused"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, method+" /probe/any HTTP/1.1\r\nHost: x\r\nUser-Agent: Load Balancer Agent\r\n\r\n")
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil {
		return 0, "no answer: " + err.Error()
	}
	code, _ := strconv.Atoi(strings.Fields(status)[1])
	rest, _ := io.ReadAll(r)
	_, body, _ := strings.Cut(string(rest), "\r\n\r\n")
	return code, body
}

func TestHTTPModes(t *testing.T) {
	s, addr := newServer(t, Config{Protocol: "http", Message: "node-a active\n", Standby: Standby503, NodeID: "a"})
	if err := s.Standby(); err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, addr, "GET"); code != 503 || body != "standby\n" {
		t.Fatalf("follower in 503 mode: %d %q", code, body)
	}
	if err := s.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, addr, "GET"); code != 200 || body != "node-a active\n" {
		t.Fatalf("leader GET: %d %q", code, body)
	}
	if code, body := httpGet(t, addr, "HEAD"); code != 200 || body != "" {
		t.Fatalf("leader HEAD: %d %q", code, body)
	}
	if code, _ := httpGet(t, addr, "POST"); code != 405 {
		t.Fatalf("POST: %d, want 405", code)
	}
	s.Follow()
	if code, _ := httpGet(t, addr, "GET"); code != 503 {
		t.Fatalf("after demotion in 503 mode: %d", code)
	}

	closed, addr2 := newServer(t, Config{Protocol: "http"})
	if code, body := httpGet(t, addr2, "GET"); code != 0 || body != "refused" {
		t.Fatalf("follower in closed mode: %d %q", code, body)
	}
	if err := closed.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, addr2, "GET"); code != 200 || body != "leader\n" {
		t.Fatalf("leader default body: %d %q", code, body)
	}
}

func TestIdleFloodDoesNotBlockFreshProbe(t *testing.T) {
	s, addr := newServer(t, Config{Protocol: "http", MaxConns: 16, Timeout: 30 * time.Second})
	if err := s.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	// Twice as many idle connections as slots, each sending nothing: a
	// server that waited for them (or had a backlog of 1, like nc) would be
	// wedged for the 30 s timeout.
	var idle []net.Conn
	for range 32 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue // the small backlog may refuse some of the flood; that is fine
		}
		idle = append(idle, c)
		time.Sleep(2 * time.Millisecond)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	if len(idle) < 17 {
		t.Fatalf("only %d idle connections got through; the flood did not exceed the limit", len(idle))
	}
	start := time.Now()
	if code, _ := httpGet(t, addr, "GET"); code != 200 {
		t.Fatalf("fresh probe during idle flood: %d", code)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("fresh probe took %s during the flood", d)
	}
}

func TestTwoPorts(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	s, _ := newServer(t, Config{Ports: []int{p1, p2}, Message: "x"})
	if err := s.Lead(always, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{p1, p2} {
		if got := tcpAnswer(t, "127.0.0.1:"+strconv.Itoa(p)); got != "ok:x" {
			t.Fatalf("port %d: %q", p, got)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Ports: []int{26001}}, ""},
		{Config{Protocol: "udp", Ports: []int{1}}, `invalid --probe-protocol: unknown protocol "udp" (want one of [http tcp])`},
		{Config{}, "invalid --probe-port: at least one port is required"},
		{Config{Ports: []int{0}}, "invalid --probe-port: 0 is out of range 1-65535"},
		{Config{Ports: []int{65536}}, "invalid --probe-port: 65536 is out of range 1-65535"},
		{Config{Ports: []int{80, 80}}, "invalid --probe-port: 80 given twice"},
		{Config{Ports: []int{80}, Address: "eth0"}, `invalid --probe-address: "eth0" is not an IP address`},
		{Config{Ports: []int{80}, Standby: "503"}, "invalid --probe-standby: 503 needs --probe-protocol http"},
		{Config{Ports: []int{80}, Standby: "open"}, `invalid --probe-standby: unknown mode "open" (want closed or 503)`},
		{Config{Ports: []int{80}, Timeout: -time.Second}, "invalid --probe-timeout: must be positive, got -1s"},
		{Config{Ports: []int{80}, MaxConns: -1}, "invalid --probe-max-conns: must be at least 1, got -1"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("Validate(%+v) = %q, want %q", c.cfg, got, c.want)
		}
	}
}

func TestParseRequestLine(t *testing.T) {
	for in, want := range map[string]string{
		"GET / HTTP/1.1":             "GET",
		"HEAD /health HTTP/1.0":      "HEAD",
		"GET /":                      "",
		"GET / SPDY/3":               "",
		" / HTTP/1.1":                "",
		"GET  HTTP/1.1":              "",
		"OPTIONS * HTTP/1.1\r\nX: y": "OPTIONS",
	} {
		got, err := parseRequestLine([]byte(in))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("parseRequestLine(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
