//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// vipOwners reports which hosts have addr on any interface, read through
// netlink handles inside each namespace.
type vipWatch struct {
	handles map[string]*netlink.Handle
	addr    netip.Addr
}

func newVIPWatch(t *testing.T, hosts []*Host, addr netip.Addr) *vipWatch {
	w := &vipWatch{handles: map[string]*netlink.Handle{}, addr: addr}
	for _, h := range hosts {
		ns, err := netns.GetFromName(h.NS)
		if err != nil {
			t.Fatal(err)
		}
		hd, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(hd.Close)
		w.handles[h.Name] = hd
	}
	return w
}

func (w *vipWatch) owners() []string {
	var out []string
	for name, h := range w.handles {
		addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == w.addr {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestVIPFollowsLeader: three nodes hold a VIP
// only while leading; a client on the bridge reaching the test page through
// the VIP always gets the leader's page; after kill -9 of the leader it gets
// the new leader's page within the failover bound; the VIP is never on two
// nodes (sampled every 20 ms).
func TestVIPFollowsLeader(t *testing.T) {
	net := NewNet(t, "n1", "n2", "n3", "client")
	vipAddr := netip.MustParseAddr(fmt.Sprintf("10.77.%d.100", net.subnet))
	lease := t.TempDir() + "/vip.lease"
	nodes := map[string]*Node{}
	var hosts []*Host
	for _, name := range []string{"n1", "n2", "n3"} {
		h := net.Host(name)
		hosts = append(hosts, h)
		StartApp(t, h, 8080)
		nodes[name] = StartNode(t, h, append([]string{"--lease-file", lease, "--vip", vipAddr.String(),
			"--vip-interface", "eth0", "--garp-count", "3", "--garp-interval", "100ms"}, fastTiming...)...)
	}
	watch := newVIPWatch(t, hosts, vipAddr)
	client := HTTPClient(t, net.Host("client").NS, 200*time.Millisecond)
	url := "http://" + vipAddr.String() + ":8080/"

	samples := startVIPSampler(t, watch, client, url, 2000)
	// First leader: VIP on exactly one node, client gets its page.
	var leader string
	end := time.Now().Add(ttl + 3*time.Second)
	for time.Now().Before(end) {
		r := samples.Last()
		if len(r.owners) == 1 && r.page == r.owners[0] {
			leader = r.page
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if leader == "" {
		t.Fatalf("client never reached the leader through the VIP; last round %+v", samples.Last())
	}
	// kill -9, and restart at once as systemd's Restart=always would: the
	// dead process cannot remove its VIP, so the new process's start-up
	// cleanup must do it before any other node can lead (lease-ttl later).
	killed := time.Now()
	nodes[leader].Signal(syscall.SIGKILL)
	nodes[leader].Wait(5 * time.Second)
	nodes[leader].Start()
	bound := ttl + retry + 500*time.Millisecond
	var newLeader string
	var took time.Duration
	for time.Since(killed) < bound+3*time.Second && newLeader == "" {
		time.Sleep(20 * time.Millisecond)
		sawOutage := false
		for _, r := range samples.Rounds() {
			if !r.at.After(killed) {
				continue
			}
			// The restarted node's cleanup removes the dead run's VIP (the
			// page stays reachable until then: the application itself did
			// not die); then a leader adds it again.
			if len(r.owners) == 0 {
				sawOutage = true
			} else if sawOutage && r.page != "" {
				newLeader, took = r.page, r.at.Sub(killed)
				break
			}
		}
	}
	if testing.Verbose() {
		for _, r := range samples.Rounds() {
			if r.at.After(killed.Add(-100*time.Millisecond)) && r.at.Before(killed.Add(300*time.Millisecond)) {
				t.Logf("%s owners=%v page=%q", r.at.Sub(killed).Round(time.Millisecond), r.owners, r.page)
			}
		}
	}
	if newLeader == "" || took > bound {
		t.Fatalf("after kill -9 of %s the client got %q after %s, want a leader's page within %s", leader, newLeader, took, bound)
	}
	t.Logf("VIP: client reached %s's page %s after %s was killed and restarted", newLeader, took.Round(time.Millisecond), leader)
	time.Sleep(time.Second)
	samples.Stop()
	rounds := samples.Rounds()
	for _, r := range rounds {
		if len(r.owners) > 1 {
			t.Fatalf("VIP on %v at %s", r.owners, r.at.Format("15:04:05.000"))
		}
		if r.page != "" && len(r.owners) == 1 && r.page != r.owners[0] {
			t.Fatalf("client got %s's page while the VIP was on %v", r.page, r.owners)
		}
	}
	if r := rounds[len(rounds)-1]; len(r.owners) != 1 || r.owners[0] != newLeader {
		t.Fatalf("at the end VIP on %v, want only %s", r.owners, newLeader)
	}
	t.Logf("%d rounds, VIP never on two nodes", len(rounds))
}
