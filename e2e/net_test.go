//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/lbhc/lbhc/itest"
)

// topoSeq keeps namespace names unique within one test binary.
var topoSeq atomic.Int32

// Net is a test network: namespace Hub holds bridge br0 (10.77.S.254/24);
// each host namespace has eth0 (10.77.S.N/24) on that bridge. S differs per
// topology so leftovers of one test never collide with the next.
type Net struct {
	t      *testing.T
	prefix string
	subnet int
	Hub    string
	Hosts  []*Host
}

// Host is one namespace on the bridge.
type Host struct {
	Name string // short name, e.g. "n1"
	NS   string // namespace name
	IP   string
	Peer string // the veth end in the hub namespace
}

func sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NewNet creates the hub and one namespace per name.
func NewNet(t *testing.T, names ...string) *Net {
	t.Helper()
	itest.Root(t)
	if _, err := exec.LookPath("ip"); err != nil {
		itest.Require(t, "iproute2 'ip' not found: apt-get install iproute2")
	}
	seq := int(topoSeq.Add(1))
	// The pid keeps concurrent test binaries (go test -count, several
	// engineers, CI) apart; names stay short for the 15-byte link limit.
	n := &Net{t: t, prefix: fmt.Sprintf("lbe%s%d", strconv.FormatInt(int64(os.Getpid()%1296), 36), seq), subnet: 100 + seq%100}
	n.Hub = n.prefix + "-hub"
	sh(t, "ip", "netns", "add", n.Hub)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Hub).Run() })
	sh(t, "ip", "-n", n.Hub, "link", "set", "lo", "up")
	sh(t, "ip", "-n", n.Hub, "link", "add", "br0", "type", "bridge")
	sh(t, "ip", "-n", n.Hub, "addr", "add", n.HubIP()+"/24", "dev", "br0")
	sh(t, "ip", "-n", n.Hub, "link", "set", "br0", "up")
	for i, name := range names {
		n.addHost(name, i+1)
	}
	return n
}

// HubIP is the bridge address, where test servers (etcd, ...) listen.
func (n *Net) HubIP() string { return fmt.Sprintf("10.77.%d.254", n.subnet) }

func (n *Net) addHost(name string, idx int) *Host {
	t := n.t
	h := &Host{Name: name, NS: n.prefix + "-" + name, IP: fmt.Sprintf("10.77.%d.%d", n.subnet, idx),
		Peer: fmt.Sprintf("%sv%d", n.prefix, idx)}
	sh(t, "ip", "netns", "add", h.NS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", h.NS).Run() })
	sh(t, "ip", "-n", h.NS, "link", "set", "lo", "up")
	sh(t, "ip", "link", "add", h.Peer, "netns", n.Hub, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
	sh(t, "ip", "-n", n.Hub, "link", "set", h.Peer, "master", "br0", "up")
	sh(t, "ip", "-n", h.NS, "addr", "add", h.IP+"/24", "dev", "eth0")
	sh(t, "ip", "-n", h.NS, "link", "set", "eth0", "up")
	n.Hosts = append(n.Hosts, h)
	return h
}

// Host returns the host with the short name.
func (n *Net) Host(name string) *Host {
	for _, h := range n.Hosts {
		if h.Name == name {
			return h
		}
	}
	n.t.Fatalf("no host %s", name)
	return nil
}

// Cut takes a host off the network (its bridge port down), as a pulled
// cable or a dead VM NIC would; Restore brings it back.
func (n *Net) Cut(h *Host)     { sh(n.t, "ip", "-n", n.Hub, "link", "set", h.Peer, "down") }
func (n *Net) Restore(h *Host) { sh(n.t, "ip", "-n", n.Hub, "link", "set", h.Peer, "up") }

// InNS runs fn on a goroutine locked to an OS thread inside namespace ns;
// sockets fn creates belong to that namespace.
func InNS(t testing.TB, ns string, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is left in the namespace and discarded (not unlocked)
		// so no other goroutine ever runs there.
		h, err := netns.GetFromName(ns)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		fn()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("enter netns %s: %v", ns, err)
	}
}

// dialer returns a dial function whose sockets are created in ns. It keeps
// one locked thread in the namespace for the test's lifetime.
func dialer(t testing.TB, ns string) func(addr string, timeout time.Duration) (net.Conn, error) {
	type req struct {
		addr    string
		timeout time.Duration
		reply   chan dialResult
	}
	reqs := make(chan req)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromName(ns)
		if err == nil {
			err = netns.Set(h)
			h.Close()
		}
		ready <- err
		if err != nil {
			return
		}
		for {
			select {
			case <-stop:
				return
			case r := <-reqs:
				c, err := net.DialTimeout("tcp", r.addr, r.timeout)
				r.reply <- dialResult{c, err}
			}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("dialer in %s: %v", ns, err)
	}
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		r := req{addr, timeout, make(chan dialResult, 1)}
		select {
		case reqs <- r:
		case <-stop:
			return nil, net.ErrClosed
		}
		res := <-r.reply
		return res.c, res.err
	}
}

type dialResult struct {
	c   net.Conn
	err error
}

// run executes a command inside a namespace and returns its output.
func run(t testing.TB, ns string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
