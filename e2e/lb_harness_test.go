//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbhc/lbhc/itest"
)

// appPort is where every node's test page listens; lbPort is HAProxy's
// frontend.
const (
	appPort = 8080
	lbPort  = 80
)

// App is the application of one node: an HTTP page answering "node=<name>",
// served by the test binary from a listener created inside the host's
// namespace, as an IIS page per node does in the user's reference setups.
type App struct {
	t    *testing.T
	host *Host
	port int

	mu  sync.Mutex
	srv *http.Server
}

// StartApp serves the page on h's port until the test ends.
func StartApp(t *testing.T, h *Host, port int) *App {
	a := &App{t: t, host: h, port: port}
	a.Start()
	t.Cleanup(a.Stop)
	return a
}

// Start opens the listener (in the host's namespace) and serves.
func (a *App) Start() {
	a.t.Helper()
	var ln net.Listener
	var err error
	InNS(a.t, a.host.NS, func() {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", a.port))
	})
	if err != nil {
		a.t.Fatalf("app on %s: %v", a.host.Name, err)
	}
	body := "node=" + a.host.Name + "\n"
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, body)
		}),
		ReadHeaderTimeout: time.Second,
	}
	go srv.Serve(ln)
	a.mu.Lock()
	a.srv = srv
	a.mu.Unlock()
}

// Stop closes the listener and every open connection: the application died.
func (a *App) Stop() {
	a.mu.Lock()
	srv := a.srv
	a.srv = nil
	a.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// HAProxy timings: checks every 100 ms; a server goes DOWN after 2 failed
// checks (~200 ms + check timeout) and UP after 4 good ones (>= 300 ms). Down
// detection is faster than up detection, so during a graceful hand-over the
// old node leaves the pool before the new one joins and the client never
// alternates between them.
const (
	lbInter = 100 * time.Millisecond
	lbFall  = 2
	lbRise  = 4
)

// lbDetect is the LB's worst-case detection of a dead server (fall x inter,
// plus one check timeout).
const lbDetect = lbFall*lbInter + lbInter

// HAProxy is the load balancer in its own namespace.
type HAProxy struct {
	*NSProc
	IP   string
	Sock string // admin socket (unix sockets are not per network namespace)
}

// StartHAProxy runs HAProxy in lb's namespace in front of the nodes: an
// application check on each node's probe port that requires the probe
// message (a completed handshake alone is not an answer), and client traffic
// forwarded to the nodes' application port.
func StartHAProxy(t *testing.T, hubDial func(string, time.Duration) (net.Conn, error), lb *Host, nodes []*Host, probePort int) *HAProxy {
	t.Helper()
	return StartHAProxyChecks(t, hubDial, lb, nodes, probePort, lbInter, lbFall)
}

// StartHAProxyChecks is StartHAProxy with another check timeout and fall
// count (checks stay lbInter apart, rise lbRise).
func StartHAProxyChecks(t *testing.T, hubDial func(string, time.Duration) (net.Conn, error), lb *Host, nodes []*Host, probePort int,
	checkTimeout time.Duration, fall int) *HAProxy {
	t.Helper()
	bin := haproxyBin(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	var b strings.Builder
	fmt.Fprintf(&b, `global
	maxconn 2000
	stats socket %s level admin
defaults
	mode http
	timeout connect 100ms
	timeout client 5s
	timeout server 1s
	timeout check %dms
	retries 1
	option redispatch
frontend fe
	bind %s:%d
	default_backend app
backend app
	balance roundrobin
	option tcp-check
	tcp-check connect port %d
	tcp-check expect string node=
	default-server inter %dms fall %d rise %d
`, sock, checkTimeout.Milliseconds(), lb.IP, lbPort, probePort, lbInter.Milliseconds(), fall, lbRise)
	for _, h := range nodes {
		fmt.Fprintf(&b, "\tserver %s %s:%d check\n", h.Name, h.IP, appPort)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p := StartNSProc(t, "haproxy", lb.NS, dialReady(hubDial, net.JoinHostPort(lb.IP, fmt.Sprint(lbPort))),
		bin, "-db", "-f", cfg)
	return &HAProxy{NSProc: p, IP: lb.IP, Sock: sock}
}

// UpServers asks HAProxy which servers of backend "app" are UP.
func (h *HAProxy) UpServers(timeout time.Duration) ([]string, error) {
	c, err := net.DialTimeout("unix", h.Sock, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, err
	}
	return parseUpServers(bufio.NewReader(c), "app")
}

// parseUpServers reads HAProxy's "show stat" CSV and returns the sorted
// names of backend's servers whose status starts with "UP" (UP, or "UP 1/2"
// while failing checks but not yet down).
func parseUpServers(r io.Reader, backend string) ([]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("show stat: %w", err)
	}
	col := map[string]int{}
	for i, name := range head {
		col[strings.TrimPrefix(strings.TrimSpace(name), "# ")] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	if _, ok := col["status"]; !ok {
		return nil, fmt.Errorf("show stat: no status column in %q", strings.Join(head, ","))
	}
	up := []string{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("show stat: %w", err)
		}
		if len(rec) <= st || len(rec) <= sv || rec[px] != backend || rec[sv] == "BACKEND" || rec[sv] == "FRONTEND" {
			continue
		}
		if strings.HasPrefix(rec[st], "UP") {
			up = append(up, rec[sv])
		}
	}
	sort.Strings(up)
	return up, nil
}

// LBSample is one poll of HAProxy's view: the servers it routes to.
type LBSample struct {
	At time.Time
	Up []string
}

// LBSampler polls HAProxy's server states every interval.
type LBSampler struct {
	mu      sync.Mutex
	samples []LBSample
	stop    chan struct{}
	done    chan struct{}
}

// StartLBSampler polls at most limit times, until Stop or the test's end.
func StartLBSampler(t *testing.T, h *HAProxy, interval time.Duration, limit int) *LBSampler {
	s := &LBSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for range limit {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			at := time.Now()
			up, err := h.UpServers(interval * 5)
			if err != nil {
				continue // HAProxy restarting or busy: no sample this round
			}
			s.mu.Lock()
			s.samples = append(s.samples, LBSample{At: at, Up: up})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

// Stop ends polling.
func (s *LBSampler) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// Samples returns a copy of what was recorded.
func (s *LBSampler) Samples() []LBSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LBSample(nil), s.samples...)
}

// ClientSample is one request of the client: who answered, or the error.
type ClientSample struct {
	At  time.Time
	Who string // node name from the page, "" on error
	Err string
}

// Client requests a URL every interval (a new connection each time, so the
// LB chooses a server per request) and records the answers.
type Client struct {
	mu      sync.Mutex
	samples []ClientSample
	stop    chan struct{}
	done    chan struct{}
}

// StartClient sends at most limit requests from namespace ns's dialer.
func StartClient(t *testing.T, dial func(string, time.Duration) (net.Conn, error), url string, interval, timeout time.Duration, limit int) *Client {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dial(addr, timeout)
		},
	}
	hc := &http.Client{Transport: tr, Timeout: timeout}
	c := &Client{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for range limit {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			at := time.Now()
			who, err := getWho(hc, url)
			s := ClientSample{At: at, Who: who}
			if err != nil {
				s.Who, s.Err = "", err.Error()
			}
			c.mu.Lock()
			c.samples = append(c.samples, s)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(c.Stop)
	return c
}

func getWho(hc *http.Client, url string) (string, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	who, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "node=")
	if !ok {
		return "", fmt.Errorf("unexpected body %q", b)
	}
	return who, nil
}

// Stop ends sampling.
func (c *Client) Stop() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// Samples returns a copy of what was recorded.
func (c *Client) Samples() []ClientSample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ClientSample(nil), c.samples...)
}

// haproxyBin is LBHC_TEST_HAPROXY, or haproxy from PATH when the test runs
// outside scripts/test.sh.
func haproxyBin(t *testing.T) string {
	return toolBin(t, "LBHC_TEST_HAPROXY", "haproxy", "apt-get install haproxy, or run via scripts/test.sh")
}

func toolBin(t *testing.T, env, name, how string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	itest.Require(t, fmt.Sprintf("%s is not set and %s is not installed: %s", env, name, how))
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
