//go:build linux

package e2e

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Fault injection of the failsafe scenarios (issue 16): the lease backend
// unreachable from some or all nodes, the peer channel cut between two
// nodes, and datagrams a key holder or a stranger sends to a peer port.

// BackendOff makes the backend unreachable from hosts and returns the undo.
// A networked backend gets a blackhole route to its address in each host's
// namespace (the nodes stay reachable for the samplers and the LB). The
// file store is shared by every namespace, so it goes off for all nodes at
// once, as a hung file share would: the test holds the store's lock
// (flock on <lease-file>.lock), so every write waits until its deadline
// and fails with a timeout, not with a conflict.
func (c *Cluster) BackendOff(hosts ...*Host) func() {
	t := c.t
	t.Helper()
	if c.Backend.Networked() {
		var hs []*netlink.Handle
		for _, h := range hosts {
			hs = append(hs, nsHandle(t, h.NS))
		}
		// Handles first, routes then: every node loses the backend
		// within microseconds of the others.
		for i, h := range hs {
			blackhole(t, h, hosts[i].Name, c.Backend.IP, true)
		}
		return func() {
			for i, h := range hs {
				blackhole(t, h, hosts[i].Name, c.Backend.IP, false)
			}
		}
	}
	if len(hosts) != len(c.Nodes) {
		t.Fatalf("the file store is shared by every node: it cannot be cut off from %d of %d", len(hosts), len(c.Nodes))
	}
	lock := c.Backend.Args[slices.Index(c.Backend.Args, "--lease-file")+1] + ".lock"
	f, err := os.OpenFile(lock, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open the lease lock: %v", err)
	}
	// Blocking: a write in progress finishes first.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", lock, err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}
}

// hosts are the nodes' hosts.
func (c *Cluster) hosts() []*Host {
	var out []*Host
	for _, n := range c.Nodes {
		out = append(out, n.Host)
	}
	return out
}

// CutPeers cuts every packet between a and b, both ways (a blackhole route
// to the other's address in each namespace), and returns the undo. Nodes
// exchange nothing but the peer channel (UDP 26002) with each other; the
// samplers, the LB and the backend are reached through other addresses.
func (c *Cluster) CutPeers(a, b *Host) func() {
	t := c.t
	t.Helper()
	ha, hb := nsHandle(t, a.NS), nsHandle(t, b.NS)
	blackhole(t, ha, a.Name, b.IP, true)
	blackhole(t, hb, b.Name, a.IP, true)
	return func() {
		blackhole(t, ha, a.Name, b.IP, false)
		blackhole(t, hb, b.Name, a.IP, false)
	}
}

// nsHandle is a netlink handle on namespace ns, closed when the test ends.
// Routes change through it in microseconds, without forking ip under load.
func nsHandle(t *testing.T, ns string) *netlink.Handle {
	t.Helper()
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatalf("namespace %s: %v", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatalf("netlink in %s: %v", ns, err)
	}
	t.Cleanup(h.Close)
	return h
}

// blackhole adds (or deletes) a blackhole route to ip/32 through h: what
// the host sends there is dropped, and its connections there stall.
func blackhole(t *testing.T, h *netlink.Handle, host, ip string, add bool) {
	t.Helper()
	r := &netlink.Route{Dst: &net.IPNet{IP: net.ParseIP(ip).To4(), Mask: net.CIDRMask(32, 32)}, Type: unix.RTN_BLACKHOLE}
	op, verb := h.RouteAdd, "add"
	if !add {
		op, verb = h.RouteDel, "delete"
	}
	if err := op(r); err != nil {
		t.Errorf("%s blackhole route to %s in %s: %v", verb, ip, host, err)
	}
}

// peerPort is lbhc's default --peer-listen port.
const peerPort = 26002

// The peer channel's wire format as the README states it (written here from
// that description, not from the package, so the test checks the
// documentation too): version 1, kind, group, from, to (one length byte
// each), sequence (unix ns), request id, term, until (ns), role, target,
// then HMAC-SHA256 over everything before it. Integers are big-endian.
type wireMsg struct {
	Kind            byte // 1 status, 2 promise request, 3 grant, 4 refuse, 5 handover
	Group, From, To string
	Seq             uint64
	ReqID, Term     uint64
	Until           time.Duration
	Role, Target    string
}

func (m wireMsg) encode(key []byte) []byte {
	b := []byte{1, m.Kind}
	for _, s := range []string{m.Group, m.From, m.To} {
		b = append(append(b, byte(len(s))), s...)
	}
	for _, v := range []uint64{m.Seq, m.ReqID, m.Term, uint64(m.Until)} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	for _, s := range []string{m.Role, m.Target} {
		b = append(append(b, byte(len(s))), s...)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	return mac.Sum(b)
}

// udpSender returns a send function to addr whose socket lives in ns. The
// socket is unconnected, so an ICMP error for one datagram never fails the
// next write.
func udpSender(t *testing.T, ns, addr string) func([]byte) error {
	t.Helper()
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var c net.PacketConn
	InNS(t, ns, func() { c, err = net.ListenPacket("udp", ":0") })
	if err != nil {
		t.Fatalf("udp socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { c.Close() })
	return func(b []byte) error { _, err := c.WriteTo(b, dst); return err }
}

// forgedSet is what a stranger or a replaying attacker sends to node to of
// a group whose key is key and whose members include peer: count of each
// refusal reason, and the datagrams. Every datagram has a valid layout;
// all but the forged ones carry a valid MAC, so only the check named by
// the reason can refuse them.
func forgedSet(key []byte, group, peer, to string, count int) (map[string]int, [][]byte) {
	wrongKey := make([]byte, 48)
	rand.Read(wrongKey)
	now := uint64(time.Now().UnixNano())
	base := wireMsg{Kind: 1, Group: group, From: peer, To: to, Role: "follower"}
	var out [][]byte
	want := map[string]int{}
	add := func(reason string, m wireMsg, k []byte) {
		out = append(out, m.encode(k))
		want[reason]++
	}
	for i := range count {
		seq := now + uint64(i)
		m := base
		m.Seq = seq
		add("bad_mac", m, wrongKey) // forged: no key
		m = base
		m.Seq, m.From = seq, "n9" // out of the peer set, with the key
		add("unknown_sender", m, key)
		m = base
		m.Seq, m.Group = seq, group+"-other"
		add("wrong_group", m, key)
		m = base
		m.Seq, m.To = seq, to+"x"
		add("wrong_recipient", m, key)
		// Replayed: a message of peer's from 30 s ago, older than the
		// heartbeat the receiver last accepted from it.
		m = base
		m.Seq = now - uint64(30*time.Second) + uint64(i)
		add("replayed", m, key)
		// Stale: a timestamp a minute ahead (a sender's clock or a
		// message kept for later), beyond the 5 s skew.
		m = base
		m.Seq = now + uint64(time.Minute) + uint64(i)
		add("stale", m, key)
	}
	return want, out
}

// junk is datagram i of a flood: random bytes (malformed), an oversized
// datagram, or a well-formed message with a random MAC (bad_mac), in turn.
func junk(i int, group, to string) []byte {
	switch i % 3 {
	case 0:
		b := make([]byte, 1+i%200)
		rand.Read(b)
		b[0] = 0xff // not version 1: never parses
		return b
	case 1:
		b := make([]byte, 600)
		rand.Read(b)
		return b
	}
	m := wireMsg{Kind: 2, Group: group, From: "n2", To: to, Seq: uint64(time.Now().UnixNano()), Until: time.Hour}
	k := make([]byte, 32)
	rand.Read(k)
	return m.encode(k)
}

// Flood sends n junk datagrams with send, spread evenly over d in batches
// every 10 ms (a bounded loop), and returns how many were sent.
func Flood(send func([]byte) error, n int, d time.Duration, group, to string) int {
	const tick = 10 * time.Millisecond
	batches := max(int(d/tick), 1)
	per := (n + batches - 1) / batches
	sent := 0
	start := time.Now()
	for b := 0; b < batches && sent < n; b++ {
		for range min(per, n-sent) {
			if send(junk(sent, group, to)) != nil {
				return sent
			}
			sent++
		}
		if sleep := time.Until(start.Add(time.Duration(b+1) * tick)); sleep > 0 {
			time.Sleep(sleep)
		}
	}
	return sent
}

// scrape reads every series of a node's /metrics whose name starts with
// prefix (admin API on 127.0.0.1:9102 of the node's namespace).
func scrape(hc *http.Client, prefix string) (map[string]float64, error) {
	resp, err := hc.Get("http://127.0.0.1:9102/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// Refusals is a node's lbhc_peer_messages_refused_total by reason.
func Refusals(t *testing.T, hc *http.Client) map[string]float64 {
	t.Helper()
	m, err := scrape(hc, "lbhc_peer_messages_refused_total{")
	if err != nil {
		t.Fatalf("refusal metrics: %v", err)
	}
	out := map[string]float64{}
	for k, v := range m {
		_, r, _ := strings.Cut(k, `reason="`)
		r, _, _ = strings.Cut(r, `"`)
		out[r] += v
	}
	return out
}

// writeKeyFile writes a fresh peer key file (mode 0600) and returns its path
// and key.
func writeKeyFile(t *testing.T) (string, []byte) {
	t.Helper()
	raw := make([]byte, 36)
	rand.Read(raw)
	key := []byte(fmt.Sprintf("%x", raw)) // 72 printable bytes
	path := filepath.Join(t.TempDir(), "peer.key")
	if err := os.WriteFile(path, append(key, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}
