//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbhc/lbhc/itest"
)

// Lease backends of the chaos suite. Servers run inside the hub namespace on
// a second bridge address (SvcIP), so a route to that one address can be
// blackholed in one node's namespace without cutting the node off the
// samplers and the LB. Nodes reach the server through a DelayProxy in the
// hub namespace, which adds latency on demand ("backend slow": the kernel
// here has no sch_netem).
const (
	BackendFile         = "file"
	BackendEtcd         = "etcd"
	BackendDynamoDB     = "dynamodb"
	BackendAzureRecord  = "azblob-record"
	BackendAzureNative  = "azblob-native"
	BackendGCS          = "gcs"
	gcsBucket           = "lbhc-e2e"
	serverPort          = 2379 // the server's own port on SvcIP
	proxyPort           = 12379
	etcdPeerPort        = 2380 // on the hub's loopback
	azuriteAccountName  = "devstoreaccount1"
	azuriteWellKnownKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// SvcIP is the hub's second bridge address, where lease servers listen.
func (n *Net) SvcIP() string { return fmt.Sprintf("10.77.%d.253", n.subnet) }

// Backend is one lease backend as the nodes see it.
type Backend struct {
	Kind   string
	Args   []string // lbhc run flags selecting and reaching the backend
	Server *NSProc  // nil for file
	Proxy  *DelayProxy
	IP     string // address to blackhole for "unreachable"; "" for file
}

// Networked reports whether the backend is reached over the network (so
// cutting a node or blackholing the server means something).
func (b *Backend) Networked() bool { return b.Server != nil }

// StartBackend starts kind's server (with on-disk state, so a stop/start
// outage keeps the lease record) and returns the flags for the nodes.
func StartBackend(t *testing.T, n *Net, hubDial func(string, time.Duration) (net.Conn, error), kind string) *Backend {
	t.Helper()
	dir := t.TempDir()
	if kind == BackendFile {
		return &Backend{Kind: kind, Args: []string{"--election", "file", "--lease-file", filepath.Join(dir, "group.lease")}}
	}
	ip := n.SvcIP()
	if _, err := run(t, n.Hub, "ip", "addr", "add", ip+"/32", "dev", "br0"); err != nil {
		// Already there from an earlier backend of the same topology.
		if out, _ := run(t, n.Hub, "ip", "-o", "addr", "show", "dev", "br0"); !strings.Contains(out, ip+"/32") {
			t.Fatalf("add %s to the hub: %v", ip, err)
		}
	}
	srvAddr := net.JoinHostPort(ip, fmt.Sprint(serverPort))
	proxyAddr := net.JoinHostPort(ip, fmt.Sprint(proxyPort))
	ready := dialReady(hubDial, srvAddr)
	var argv, args []string
	switch kind {
	case BackendEtcd:
		bin := itest.Env(t, "LBHC_TEST_ETCD_BIN")
		client := "http://" + srvAddr
		// The peer URL is on the hub's loopback, not SvcIP: a blackhole
		// of SvcIP is the nodes' problem, never etcd's own.
		peer := fmt.Sprintf("http://127.0.0.1:%d", etcdPeerPort)
		argv = []string{bin, "--name", "chaos", "--data-dir", filepath.Join(dir, "etcd"),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "chaos=" + peer, "--logger", "zap", "--log-level", "warn"}
		args = []string{"--election", "etcd", "--etcd-endpoints", "http://" + proxyAddr}
	case BackendDynamoDB:
		bin := itest.Env(t, "LBHC_TEST_DYNALITE_CMD")
		argv = []string{bin, "--host", ip, "--port", fmt.Sprint(serverPort), "--path", filepath.Join(dir, "dynalite"),
			"--createTableMs", "50"}
		args = []string{"--election", "dynamodb", "--aws-endpoint", "http://" + proxyAddr,
			"--aws-region", "us-east-1", "--dynamodb-create-table"}
		// dynalite accepts any static credentials; the nodes inherit them.
		// A parallel test cannot Setenv: its parent sets them first.
		if os.Getenv("AWS_ACCESS_KEY_ID") != "test" || os.Getenv("AWS_SECRET_ACCESS_KEY") != "test" {
			t.Setenv("AWS_ACCESS_KEY_ID", "test")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
		}
	case BackendAzureRecord, BackendAzureNative:
		bin := itest.Env(t, "LBHC_TEST_AZURITE_CMD")
		loc := filepath.Join(dir, "azurite")
		if err := os.MkdirAll(loc, 0o755); err != nil {
			t.Fatal(err)
		}
		argv = []string{bin, "--blobHost", ip, "--blobPort", fmt.Sprint(serverPort), "--location", loc,
			"--skipApiVersionCheck", "--disableTelemetry", "--silent"}
		mode := "record"
		if kind == BackendAzureNative {
			mode = "native"
		}
		cs := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://%s/%s;",
			azuriteAccountName, azuriteWellKnownKey, proxyAddr, azuriteAccountName)
		args = []string{"--election", "azblob", "--azure-lease-mode", mode,
			"--azure-connection-string", cs, "--azure-create-container"}
	case BackendGCS:
		bin := itest.Env(t, "LBHC_TEST_FAKE_GCS_CMD")
		// The filesystem backend keeps objects across a stop/start; a
		// directory under its root is a bucket.
		root := filepath.Join(dir, "gcs")
		if err := os.MkdirAll(filepath.Join(root, gcsBucket), 0o755); err != nil {
			t.Fatal(err)
		}
		argv = []string{bin, "-scheme", "http", "-host", ip, "-port", fmt.Sprint(serverPort),
			"-backend", "filesystem", "-filesystem-root", root, "-log-level", "warn"}
		// Plain http: the nodes send no credentials.
		args = []string{"--election", "gcs", "--gcs-bucket", gcsBucket, "--gcs-endpoint", "http://" + proxyAddr}
	default:
		t.Fatalf("unknown backend %q", kind)
	}
	srv := StartNSProc(t, kind+"-server", n.Hub, ready, argv...)
	proxy := StartDelayProxy(t, n.Hub, proxyAddr, srvAddr, hubDial)
	return &Backend{Kind: kind, Args: args, Server: srv, Proxy: proxy, IP: ip}
}

// Blackhole makes the backend unreachable from h only (a blackhole route to
// the server address in h's namespace); the returned func undoes it.
func (b *Backend) Blackhole(t *testing.T, h *Host) func() {
	t.Helper()
	if out, err := run(t, h.NS, "ip", "route", "add", "blackhole", b.IP+"/32"); err != nil {
		t.Fatalf("blackhole %s in %s: %v: %s", b.IP, h.Name, err, out)
	}
	return func() {
		if out, err := run(t, h.NS, "ip", "route", "del", "blackhole", b.IP+"/32"); err != nil {
			t.Errorf("remove blackhole in %s: %v: %s", h.Name, err, out)
		}
	}
}

// DelayProxy forwards TCP connections to a target and delays every chunk,
// in each direction, by the current delay (order is kept).
type DelayProxy struct {
	ln     net.Listener
	target string
	dial   func(string, time.Duration) (net.Conn, error)
	delay  atomic.Int64 // nanoseconds

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// maxProxyConns bounds the connections one proxy holds.
const maxProxyConns = 256

// StartDelayProxy listens on listen inside ns and forwards to target through
// dial (a dialer of the same namespace).
func StartDelayProxy(t *testing.T, ns, listen, target string, dial func(string, time.Duration) (net.Conn, error)) *DelayProxy {
	t.Helper()
	var ln net.Listener
	var err error
	InNS(t, ns, func() { ln, err = net.Listen("tcp", listen) })
	if err != nil {
		t.Fatalf("delay proxy on %s: %v", listen, err)
	}
	p := &DelayProxy{ln: ln, target: target, dial: dial, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// SetDelay sets the one-way delay added to every chunk from now on.
func (p *DelayProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

func (p *DelayProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			up, err := p.dial(p.target, 2*time.Second)
			if err != nil {
				return
			}
			if !p.track(up) {
				up.Close()
				return
			}
			defer p.untrack(up)
			done := make(chan struct{}, 2)
			go func() { p.pipe(up, c); done <- struct{}{} }()
			go func() { p.pipe(c, up); done <- struct{}{} }()
			<-done // one side finished: tear both down
		}()
	}
}

func (p *DelayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.conns) >= maxProxyConns {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *DelayProxy) untrack(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each chunk delivered delay after it was read.
func (p *DelayProxy) pipe(dst, src net.Conn) {
	q := make(chan chunk, 64)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now().Add(time.Duration(p.delay.Load()))}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.b); err != nil {
			src.Close()
			for range q { // drain so the reader ends
			}
			return
		}
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		_ = io.Closer(dst).Close()
	}
}

// Close stops accepting and closes every connection.
func (p *DelayProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
