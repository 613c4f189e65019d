package vip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netns"
)

// These tests need root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN for
// setns) and iproute2 to build the namespaces. They create network
// namespaces and veth links named lbv* and delete them afterwards.
//
//	sudo go test -count=1 -run Netns ./vip/

// requireNetns skips (or fails when LBHC_REQUIRE_INTEGRATION=1) when the
// test cannot create network namespaces.
func requireNetns(t testing.TB) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root to create network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		reason = "needs iproute2 (ip) to build test namespaces"
	}
	if reason == "" {
		return
	}
	msg := reason + "; run: sudo go test -count=1 -run Netns ./vip/"
	if os.Getenv("LBHC_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var nsSeq atomic.Int32

// testNet is two namespaces joined by a veth pair: "node" (where lbhc runs,
// link nodeIf, 192.0.2.1/24 and 2001:db8::1/64) and "peer" (a neighbour on
// the same link, peerIf, 192.0.2.2/24 and 2001:db8::2/64).
type testNet struct {
	node, peer     string
	nodeIf, peerIf string
	nodeMAC        string
}

func newTestNet(t testing.TB) *testNet {
	t.Helper()
	requireNetns(t)
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, nsSeq.Add(1))
	n := &testNet{node: "lbvn" + id, peer: "lbvp" + id, nodeIf: "lbv" + id + "a", peerIf: "lbv" + id + "b"}
	for _, ns := range []string{n.node, n.peer} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "link", "add", n.nodeIf, "netns", n.node, "type", "veth", "peer", "name", n.peerIf, "netns", n.peer)
	for _, c := range [][]string{
		{"-n", n.node, "link", "set", "lo", "up"},
		{"-n", n.peer, "link", "set", "lo", "up"},
		{"-n", n.node, "addr", "add", "192.0.2.1/24", "dev", n.nodeIf},
		{"-n", n.node, "addr", "add", "2001:db8::1/64", "dev", n.nodeIf, "nodad"},
		{"-n", n.peer, "addr", "add", "192.0.2.2/24", "dev", n.peerIf},
		{"-n", n.peer, "addr", "add", "2001:db8::2/64", "dev", n.peerIf, "nodad"},
		{"-n", n.node, "link", "set", n.nodeIf, "up"},
		{"-n", n.peer, "link", "set", n.peerIf, "up"},
	} {
		run(t, "ip", c...)
	}
	// The kernel configures IPv6 on a link (link-local address, multicast
	// route) when it sees the carrier, up to a second after "link up".
	// Until then the peer drops multicast such as neighbour advertisements.
	deadline := time.Now().Add(5 * time.Second)
	for _, side := range [][2]string{{n.node, n.nodeIf}, {n.peer, n.peerIf}} {
		for !strings.Contains(run(t, "ip", "-n", side[0], "-6", "route", "show", "table", "local", "dev", side[1]), "multicast ff00::/8") {
			if time.Now().After(deadline) {
				t.Fatalf("IPv6 multicast route on %s in %s did not appear", side[1], side[0])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var links []struct {
		Address string `json:"address"`
	}
	mustJSON(t, run(t, "ip", "-j", "-n", n.node, "link", "show", "dev", n.nodeIf), &links)
	n.nodeMAC = links[0].Address
	return n
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mustJSON(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
}

// inNS runs fn on an OS thread switched into the named namespace. Sockets
// created by fn stay in that namespace after the thread switches back.
func inNS(t testing.TB, name string, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(name)
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
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it exits with this goroutine.
			errc <- err
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
}

// newNSManager creates a manager whose sockets live in namespace ns.
func newNSManager(t testing.TB, ns string, cfg Config, reg prometheus.Registerer) *Manager {
	t.Helper()
	var m *Manager
	var err error
	var log *slog.Logger // benchmarks measure without logging
	if _, bench := t.(*testing.B); !bench {
		log = testLogger(t)
	}
	inNS(t, ns, func() { m, err = New(cfg, log, reg) })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

type ipAddr struct {
	Family    string `json:"family"`
	Local     string `json:"local"`
	PrefixLen int    `json:"prefixlen"`
	Scope     string `json:"scope"`
	Label     string `json:"label"`
	Preferred uint64 `json:"preferred_life_time"`
	Valid     uint64 `json:"valid_life_time"`
	NoDAD     bool   `json:"nodad"`
	NoPrefix  bool   `json:"noprefixroute"`
	Deprec    bool   `json:"deprecated"`
}

// addrsOn lists the addresses of dev in namespace ns as iproute2 sees them.
func addrsOn(t testing.TB, ns, dev string) map[string]ipAddr {
	t.Helper()
	var links []struct {
		AddrInfo []ipAddr `json:"addr_info"`
	}
	mustJSON(t, run(t, "ip", "-j", "-n", ns, "addr", "show", "dev", dev), &links)
	out := map[string]ipAddr{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			out[fmt.Sprintf("%s/%d", a.Local, a.PrefixLen)] = a
		}
	}
	return out
}

var (
	vip4 = netip.MustParsePrefix("192.0.2.10/32")
	vip6 = netip.MustParsePrefix("2001:db8::10/128")
)

func TestNetnsAddIdempotentRemove(t *testing.T) {
	n := newTestNet(t)
	reg := prometheus.NewRegistry()
	m := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4, vip6}, Interface: n.nodeIf, Mode: ModeNIC}, reg)
	ctx := context.Background()
	if err := m.Preflight(ctx); err != nil {
		t.Fatalf("Preflight: %v", err)
	}
	if err := m.Cleanup(ctx); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	for i := range 2 { // the second Add must change nothing
		if err := m.Add(ctx); err != nil {
			t.Fatalf("Add #%d: %v", i+1, err)
		}
		got := addrsOn(t, n.node, n.nodeIf)
		if len(got) != 5 { // 2 configured + link-local + 2 VIPs
			t.Fatalf("Add #%d: addresses %v, want 5", i+1, got)
		}
		a4, ok := got["192.0.2.10/32"]
		if !ok {
			t.Fatalf("Add #%d: IPv4 VIP missing: %v", i+1, got)
		}
		if a4.Label != n.nodeIf+":lbhc" || a4.Scope != "link" || !a4.Deprec || !a4.NoPrefix {
			t.Errorf("IPv4 VIP attributes = %+v", a4)
		}
		a6, ok := got["2001:db8::10/128"]
		if !ok {
			t.Fatalf("Add #%d: IPv6 VIP missing: %v", i+1, got)
		}
		if !a6.NoDAD || !a6.NoPrefix || !a6.Deprec || a6.Preferred != 0 || a6.Valid != infiniteLft {
			t.Errorf("IPv6 VIP attributes = %+v", a6)
		}
		// iproute2 6.1 does not show IFA_PROTO; lbhc's own listing does.
		// An IPv6 address has no label, so Ours comes from IFA_PROTO alone.
		listed, err := m.sys.addrs()
		if err != nil {
			t.Fatal(err)
		}
		ours := 0
		for _, a := range listed {
			if a.Ours {
				ours++
				if a.Prefix != vip4 && a.Prefix != vip6 {
					t.Errorf("address %v listed as lbhc's", a)
				}
			}
		}
		if ours != 2 {
			t.Errorf("lbhc's addresses listed: %d, want 2 (%v)", ours, listed)
		}
	}
	// The peer on the link reaches both VIPs (ARP / neighbour discovery
	// answered for the scope-link /32 and the deprecated /128).
	serveAndDial(t, n, vip4.Addr())
	serveAndDial(t, n, vip6.Addr())

	// Never the source address: the node's traffic to other destinations
	// keeps using its own addresses.
	run(t, "ip", "-n", n.node, "route", "add", "default", "via", "192.0.2.254")
	run(t, "ip", "-n", n.node, "-6", "route", "add", "default", "via", "2001:db8::fe")
	for dst, want := range map[string]string{"198.51.100.7": "192.0.2.1", "2001:db8:ffff::7": "2001:db8::1", "192.0.2.99": "192.0.2.1"} {
		var routes []struct {
			PrefSrc string `json:"prefsrc"`
		}
		mustJSON(t, run(t, "ip", "-j", "-n", n.node, "route", "get", dst), &routes)
		if len(routes) != 1 || routes[0].PrefSrc != want {
			t.Errorf("route get %s: source %+v, want %s", dst, routes, want)
		}
	}
	for _, s := range m.Status() {
		if !s.Present || s.Interface != n.nodeIf {
			t.Errorf("Status after Add: %+v", s)
		}
	}
	if v := testutil.ToFloat64(m.m.present.WithLabelValues(vip4.String())); v != 1 {
		t.Errorf("lbhc_vip_present{vip=%s} = %v, want 1", vip4, v)
	}
	if err := m.Remove(ctx); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	got := addrsOn(t, n.node, n.nodeIf)
	if _, ok := got["192.0.2.10/32"]; ok {
		t.Errorf("IPv4 VIP still present after Remove: %v", got)
	}
	if _, ok := got["2001:db8::10/128"]; ok {
		t.Errorf("IPv6 VIP still present after Remove: %v", got)
	}
	if len(got) != 3 {
		t.Errorf("after Remove: %v, want the 3 addresses of the node", got)
	}
	for _, s := range m.Status() {
		if s.Present {
			t.Errorf("Status after Remove: %+v", s)
		}
	}
	if err := m.Remove(ctx); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestNetnsPreflightMissingInterface(t *testing.T) {
	n := newTestNet(t)
	m := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4}, Interface: "lbvnothere"}, nil)
	err := m.Preflight(context.Background())
	want := fmt.Sprintf(`invalid --vip-interface: interface "lbvnothere" not found (have: lo, %s)`, n.nodeIf)
	var ce *ConfigError
	if err == nil || err.Error() != want || !errors.As(err, &ce) || ce.ExitCode() != 2 {
		t.Fatalf("Preflight = %v, want %s (exit 2)", err, want)
	}
}

func TestNetnsStaleCleanupAfterCrash(t *testing.T) {
	n := newTestNet(t)
	ctx := context.Background()
	cfg := Config{Addrs: []netip.Prefix{vip4, vip6}, Interface: n.nodeIf}
	crashed := newNSManager(t, n.node, cfg, nil)
	if err := crashed.Add(ctx); err != nil {
		t.Fatalf("Add: %v", err)
	}
	// Another lbhc VIP that this instance does not own (other instance).
	other := Config{Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.11/32")}, Interface: n.nodeIf}
	if err := newNSManager(t, n.node, other, nil).Add(ctx); err != nil {
		t.Fatalf("Add other: %v", err)
	}
	_ = crashed.Close() // the process dies: nothing is removed

	reg := prometheus.NewRegistry()
	m := newNSManager(t, n.node, cfg, reg)
	if err := m.Preflight(ctx); err != nil {
		t.Fatalf("Preflight with stale own VIPs: %v", err)
	}
	if err := m.Cleanup(ctx); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	got := addrsOn(t, n.node, n.nodeIf)
	for _, a := range []string{"192.0.2.10/32", "2001:db8::10/128"} {
		if _, ok := got[a]; ok {
			t.Errorf("stale %s not removed: %v", a, got)
		}
	}
	if _, ok := got["192.0.2.11/32"]; !ok {
		t.Errorf("other instance's VIP removed: %v", got)
	}
	if v := testutil.ToFloat64(m.m.staleRemoved); v != 2 {
		t.Errorf("lbhc_vip_stale_removed_total = %v, want 2", v)
	}
}

func TestNetnsForeignAddressUntouched(t *testing.T) {
	n := newTestNet(t)
	ctx := context.Background()
	// A foreign /32 on the same interface, next to the VIP.
	run(t, "ip", "-n", n.node, "addr", "add", "192.0.2.20/32", "dev", n.nodeIf)
	m := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4}, Interface: n.nodeIf}, nil)
	for _, step := range []func(context.Context) error{m.Preflight, m.Cleanup, m.Add, m.Remove, m.Cleanup} {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := addrsOn(t, n.node, n.nodeIf)["192.0.2.20/32"]; !ok {
			t.Fatal("foreign address removed")
		}
	}

	// A VIP equal to a host address is a configuration error, and the
	// address is neither adopted nor removed.
	run(t, "ip", "-n", n.node, "addr", "add", "192.0.2.30/32", "dev", n.nodeIf)
	bad := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.30/32")}, Interface: n.nodeIf}, nil)
	err := bad.Preflight(ctx)
	want := fmt.Sprintf("invalid --vip: 192.0.2.30 is already an address of this host (192.0.2.30/32 on %s, not added by lbhc)", n.nodeIf)
	var ce *ConfigError
	if err == nil || err.Error() != want || !errors.As(err, &ce) {
		t.Fatalf("Preflight = %v, want %s", err, want)
	}
	if err := bad.Add(ctx); err == nil || !strings.Contains(err.Error(), "refusing to adopt") {
		t.Errorf("Add over a foreign address = %v, want refusal", err)
	}
	for _, step := range []func(context.Context) error{bad.Remove, bad.Cleanup} {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bad.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := addrsOn(t, n.node, n.nodeIf)["192.0.2.30/32"]; !ok {
		t.Fatal("foreign address equal to the VIP was removed")
	}
}

func TestNetnsReconcile(t *testing.T) {
	n := newTestNet(t)
	ctx := context.Background()
	m := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4, vip6}, Interface: n.nodeIf}, prometheus.NewRegistry())
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := m.Reconcile(ctx); err != nil || r != 0 {
		t.Fatalf("Reconcile with nothing to do = %d, %v", r, err)
	}
	run(t, "ip", "-n", n.node, "addr", "del", "192.0.2.10/32", "dev", n.nodeIf)
	run(t, "ip", "-n", n.node, "addr", "del", "2001:db8::10/128", "dev", n.nodeIf)
	if r, err := m.Reconcile(ctx); err != nil || r != 2 {
		t.Fatalf("Reconcile after removal = %d, %v; want 2 repairs", r, err)
	}
	got := addrsOn(t, n.node, n.nodeIf)
	if _, ok := got["192.0.2.10/32"]; !ok {
		t.Errorf("IPv4 VIP not re-added: %v", got)
	}
	if _, ok := got["2001:db8::10/128"]; !ok {
		t.Errorf("IPv6 VIP not re-added: %v", got)
	}
	if v := testutil.ToFloat64(m.m.repairs); v != 2 {
		t.Errorf("lbhc_vip_repairs_total = %v, want 2", v)
	}
	// Not leading: a VIP of ours that reappears is removed.
	if err := m.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "-n", n.node, "addr", "add", "192.0.2.10/32", "dev", n.nodeIf, "label", n.nodeIf+":lbhc")
	if r, err := m.Reconcile(ctx); err != nil || r != 1 {
		t.Fatalf("Reconcile while not leading = %d, %v; want 1", r, err)
	}
	if _, ok := addrsOn(t, n.node, n.nodeIf)["192.0.2.10/32"]; ok {
		t.Error("VIP still present while not leading")
	}
}

func TestNetnsLoopbackMode(t *testing.T) {
	n := newTestNet(t)
	ctx := context.Background()
	// The peer reaches the VIP through the node, like a load balancer with
	// floating IP / direct server return.
	run(t, "ip", "-n", n.peer, "route", "add", "192.0.2.100/32", "via", "192.0.2.1")
	run(t, "ip", "-n", n.peer, "route", "add", "2001:db8::100/128", "via", "2001:db8::1")
	m := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32"), netip.MustParsePrefix("2001:db8::100/128")},
		Mode: ModeLoopback, GARPCount: 3, GARPInterval: time.Millisecond}, nil)
	if err := m.Preflight(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	a, ok := addrsOn(t, n.node, "lo")["192.0.2.100/32"]
	if !ok || a.Label != "lo:lbhc" {
		t.Fatalf("VIP on lo: %+v (present %v)", a, ok)
	}
	if _, ok := addrsOn(t, n.node, "lo")["2001:db8::100/128"]; !ok {
		t.Fatal("IPv6 VIP not on lo")
	}
	if st := m.Status(); len(st) != 2 || !st[0].Present || st[0].Interface != "lo" || !st[1].Present {
		t.Errorf("Status = %+v", st)
	}
	if v := testutil.ToFloat64(m.m.announcements); v != 0 {
		t.Errorf("loopback mode announced %v frames", v)
	}

	serveAndDial(t, n, netip.MustParseAddr("192.0.2.100"))
	serveAndDial(t, n, netip.MustParseAddr("2001:db8::100"))
	if err := m.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if got := addrsOn(t, n.node, "lo"); len(got) != 2 {
		t.Fatalf("lo after Remove: %v, want 127.0.0.1 and ::1 only", got)
	}
}

// serveAndDial listens on addr in the node namespace and checks that the
// peer namespace can connect to it and read the node's reply.
func serveAndDial(t *testing.T, n *testNet, addr netip.Addr) {
	t.Helper()
	var ln net.Listener
	var err error
	inNS(t, n.node, func() { ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String()) })
	if err != nil {
		t.Fatalf("listening on the VIP %s: %v", addr, err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Write([]byte("leader"))
			c.Close()
		}
	}()
	var reply []byte
	inNS(t, n.peer, func() {
		c, derr := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
		if derr != nil {
			err = derr
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		reply = make([]byte, 6)
		_, err = io.ReadFull(c, reply)
	})
	if err != nil || string(reply) != "leader" {
		t.Fatalf("peer reaching the VIP %s: %q, %v", addr, reply, err)
	}
}

// neighMAC returns the link-layer address the peer has for ip ("" if none).
func neighMAC(t testing.TB, ns, dev, ip string) string {
	var neigh []struct {
		LLAddr string `json:"lladdr"`
	}
	mustJSON(t, run(t, "ip", "-j", "-n", ns, "neigh", "show", ip, "dev", dev), &neigh)
	if len(neigh) == 0 {
		return ""
	}
	return neigh[0].LLAddr
}

func TestNetnsGratuitousARPUpdatesNeighbour(t *testing.T) {
	n := newTestNet(t)
	ctx := context.Background()
	// The peer still has the old leader's MAC for both VIPs.
	const oldMAC = "02:00:5e:00:00:99"
	for _, ip := range []string{"192.0.2.10", "2001:db8::10"} {
		run(t, "ip", "-n", n.peer, "neigh", "replace", ip, "lladdr", oldMAC, "dev", n.peerIf, "nud", "stale")
		if got := neighMAC(t, n.peer, n.peerIf, ip); got != oldMAC {
			t.Fatalf("set-up: neighbour %s = %q", ip, got)
		}
	}
	// Control: without announcements the entries keep the old MAC, so the
	// update below is the work of lbhc's frames, not of the kernel.
	quiet := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4, vip6}, Interface: n.nodeIf}, nil)
	if err := quiet.Add(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	for _, ip := range []string{"192.0.2.10", "2001:db8::10"} {
		if got := neighMAC(t, n.peer, n.peerIf, ip); got != oldMAC {
			t.Fatalf("neighbour %s changed to %q without announcements", ip, got)
		}
	}
	if err := quiet.Remove(ctx); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	m := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4, vip6}, Interface: n.nodeIf,
		GARPCount: 3, GARPInterval: 50 * time.Millisecond}, reg)
	if err := m.Preflight(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, ip := range []string{"192.0.2.10", "2001:db8::10"} {
		for {
			got := neighMAC(t, n.peer, n.peerIf, ip)
			if got == n.nodeMAC {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("peer's neighbour entry for %s = %q, want the new leader's %s", ip, got, n.nodeMAC)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := m.Remove(ctx); err != nil { // also waits for the background rounds
		t.Fatal(err)
	}
	sent := testutil.ToFloat64(m.m.announcements)
	if sent < 3 || sent > 9 { // per round: 2 ARP frames + 1 NA
		t.Errorf("lbhc_vip_announcements_total = %v, want 3..9", sent)
	}
	if e := testutil.ToFloat64(m.m.announceErrs); e != 0 {
		t.Errorf("lbhc_vip_announce_errors_total = %v", e)
	}
	time.Sleep(150 * time.Millisecond)
	if after := testutil.ToFloat64(m.m.announcements); after != sent {
		t.Errorf("announcements continued after Remove: %v -> %v", sent, after)
	}
}

// A 15-byte interface name leaves no room for "<iface>:lbhc"; the label is
// shortened and the kernel must still accept it and lbhc recognise it.
func TestNetnsLongInterfaceName(t *testing.T) {
	n := newTestNet(t)
	long := fmt.Sprintf("lbv%012d", nsSeq.Add(1)+int32(os.Getpid()%10000)*1000)
	if len(long) != 15 {
		t.Fatalf("test name %q is not 15 bytes", long)
	}
	run(t, "ip", "-n", n.node, "link", "add", long, "type", "veth", "peer", "name", "lbvlp"+n.nodeIf[3:])
	run(t, "ip", "-n", n.node, "link", "set", long, "up")
	ctx := context.Background()
	m := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4}, Interface: long}, nil)
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	a, ok := addrsOn(t, n.node, long)["192.0.2.10/32"]
	if !ok || a.Label != long[:10]+":lbhc" {
		t.Fatalf("VIP on %s: %+v (present %v)", long, a, ok)
	}
	// A new manager (as after a crash) recognises and removes it.
	if err := newNSManager(t, n.node, Config{Addrs: []netip.Prefix{vip4}, Interface: long}, nil).Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := addrsOn(t, n.node, long)["192.0.2.10/32"]; ok {
		t.Fatal("stale VIP on the long-named interface not removed")
	}
}

// BenchmarkNetnsAddRemove measures promotion and demotion of one IPv4 and
// one IPv6 VIP on a veth link: Add (both addresses added and the first
// announcement round sent, i.e. the VIP usable) and Remove (both gone).
//
//	sudo go test -run '^$' -bench NetnsAddRemove -benchtime 200x ./vip/
func BenchmarkNetnsAddRemove(b *testing.B) {
	n := newTestNet(b)
	m := newNSManager(b, n.node, Config{Addrs: []netip.Prefix{vip4, vip6}, Interface: n.nodeIf, GARPCount: 1}, nil)
	ctx := context.Background()
	var add, remove time.Duration
	for b.Loop() {
		start := time.Now()
		if err := m.Add(ctx); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := m.Remove(ctx); err != nil {
			b.Fatal(err)
		}
		add += mid.Sub(start)
		remove += time.Since(mid)
	}
	b.ReportMetric(float64(add.Microseconds())/float64(b.N), "add-µs/op")
	b.ReportMetric(float64(remove.Microseconds())/float64(b.N), "remove-µs/op")
}

// Kernels before 5.18 drop IFA_PROTO, so an IPv6 VIP has no mark. The
// process remembers what it added; a new process (after a crash) does not
// adopt the unmarked address.
func TestNetnsWithoutAddressProtocol(t *testing.T) {
	n := newTestNet(t)
	ctx := context.Background()
	cfg := Config{Addrs: []netip.Prefix{vip6}, Interface: n.nodeIf}
	m := newNSManager(t, n.node, cfg, nil)
	lp := m.sys.(*linuxPlatform)
	// What an old kernel leaves after lbhc's add: the address, no IFA_PROTO.
	run(t, "ip", "-n", n.node, "addr", "add", vip6.String(), "dev", n.nodeIf, "nodad", "preferred_lft", "0")
	var index int
	inNS(t, n.node, func() {
		ifc, err := net.InterfaceByName(n.nodeIf)
		if err == nil {
			index = ifc.Index
		}
	})
	lp.added[addrKey{index, vip6}] = true
	if err := m.Add(ctx); err != nil {
		t.Fatalf("Add with the remembered address: %v", err)
	}
	if st := m.Status(); !st[0].Present || !lp.warnedNoProto {
		t.Errorf("Status %+v, warned %v", st, lp.warnedNoProto)
	}
	var ce *ConfigError
	if err := newNSManager(t, n.node, cfg, nil).Preflight(ctx); !errors.As(err, &ce) {
		t.Errorf("new process Preflight = %v, want a configuration error", err)
	}
	if err := m.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := addrsOn(t, n.node, n.nodeIf)[vip6.String()]; ok || len(lp.added) != 0 {
		t.Errorf("after Remove: present %v, remembered %v", ok, lp.added)
	}
}
