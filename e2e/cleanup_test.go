//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// ifaceAddrs lists every address of eth0 in h's namespace (with labels), so
// a test can tell whether anything besides the VIP changed.
func ifaceAddrs(t *testing.T, w *vipWatch, host string) []string {
	t.Helper()
	h := w.handles[host]
	l, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String()+" "+a.Label)
	}
	slices.Sort(out)
	return out
}

// TestCleanupAfterKill9 is the crash clean-up: kill -9 of the
// leader leaves its VIP on eth0; `lbhc cleanup` with the unit's settings
// (what systemd's ExecStopPost runs) removes it and nothing else, refuses
// while the agent still runs, and the other node takes the VIP over; the
// VIP is never on both nodes.
func TestCleanupAfterKill9(t *testing.T) {
	net := NewNet(t, "n1", "n2")
	vipAddr := netip.MustParseAddr(fmt.Sprintf("10.77.%d.100", net.subnet))
	lease := t.TempDir() + "/vip.lease"
	nodes := map[string]*Node{}
	var hosts []*Host
	for _, name := range []string{"n1", "n2"} {
		h := net.Host(name)
		hosts = append(hosts, h)
		// An address someone else manages, which cleanup must leave alone.
		sh(t, "ip", "-n", h.NS, "addr", "add", fmt.Sprintf("10.77.%d.%d/32", net.subnet, 150+len(hosts)), "dev", "eth0")
		nodes[name] = StartNode(t, h, append([]string{"--lease-file", lease, "--vip", vipAddr.String(),
			"--vip-interface", "eth0", "--garp-count", "1"}, fastTiming...)...)
	}
	watch := newVIPWatch(t, hosts, vipAddr)
	var leader string
	for end := time.Now().Add(ttl + 3*time.Second); time.Now().Before(end) && leader == ""; time.Sleep(20 * time.Millisecond) {
		if o := watch.owners(); len(o) == 1 {
			leader = o[0]
		}
	}
	if leader == "" {
		t.Fatalf("no single VIP owner: %v", watch.owners())
	}
	other := "n1"
	if leader == "n1" {
		other = "n2"
	}
	n := nodes[leader]
	state := filepath.Join(filepath.Dir(n.log), leader+"-state")
	cleanup := func() (string, error) {
		// As ExecStopPost: the unit's environment (EnvironmentFile) sets
		// the VIPs, the state dir comes from Environment=.
		return run(t, n.Host.NS, "env", "LBHC_VIP="+vipAddr.String(), lbhcBin, "cleanup", "--state-dir", state)
	}
	before := ifaceAddrs(t, watch, leader)

	// While the agent runs, cleanup refuses and changes nothing.
	if out, err := cleanup(); err == nil || !strings.Contains(out, "refused") {
		t.Fatalf("cleanup while the leader runs: %v %s", err, out)
	}
	if got := ifaceAddrs(t, watch, leader); !slices.Equal(got, before) {
		t.Fatalf("refused cleanup changed eth0: %v -> %v", before, got)
	}

	n.Signal(syscall.SIGKILL)
	if !n.Wait(5 * time.Second) {
		t.Fatal("leader did not die")
	}
	killed := time.Now()
	if o := watch.owners(); !slices.Equal(o, []string{leader}) {
		t.Fatalf("after kill -9 the VIP is on %v; want still on the dead %s", o, leader)
	}
	out, err := cleanup()
	if err != nil || !strings.Contains(out, "removed "+vipAddr.String()+"/32 from eth0") {
		t.Fatalf("cleanup after kill -9: %v %s", err, out)
	}
	want := slices.DeleteFunc(slices.Clone(before), func(s string) bool { return strings.HasPrefix(s, vipAddr.String()+"/") })
	if got := ifaceAddrs(t, watch, leader); !slices.Equal(got, want) {
		t.Fatalf("eth0 after cleanup: %v; want %v (only the VIP removed)", got, want)
	}
	// Safe when nothing is there.
	if out, err := cleanup(); err != nil || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("second cleanup: %v %s", err, out)
	}
	// The other node takes over once the dead leader's lease runs out; the
	// VIP is never on both.
	for {
		o := watch.owners()
		if len(o) > 1 {
			t.Fatalf("VIP on %v at once", o)
		}
		if slices.Equal(o, []string{other}) {
			break
		}
		if time.Since(killed) > ttl+retry+3*time.Second {
			t.Fatalf("%s did not take the VIP over within %s: owners %v", other, time.Since(killed), o)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
