//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/agent"
)

// TestVIPLinkDownMovesLeadership: the leader's VIP interface loses its
// carrier (its bridge port goes down) while its lease stays renewable (file
// lease): after --vip-link-grace it hands over, the VIP moves and a client
// reaches the new leader through it; the VIP is never on two nodes; the
// link coming back does not bring leadership back.
func TestVIPLinkDownMovesLeadership(t *testing.T) {
	const grace = time.Second
	net := NewNet(t, "n1", "n2", "n3", "client")
	vipAddr := netip.MustParseAddr(fmt.Sprintf("10.77.%d.100", net.subnet))
	lease := t.TempDir() + "/link.lease"
	nodes := map[string]*Node{}
	var hosts []*Host
	for _, name := range []string{"n1", "n2", "n3"} {
		h := net.Host(name)
		hosts = append(hosts, h)
		StartApp(t, h, 8080)
		nodes[name] = StartNode(t, h, append([]string{"--lease-file", lease, "--vip", vipAddr.String(),
			"--vip-interface", "eth0", "--garp-count", "3", "--garp-interval", "100ms", "--vip-link-grace", grace.String()}, fastTiming...)...)
	}
	watch := newVIPWatch(t, hosts, vipAddr)
	client := HTTPClient(t, net.Host("client").NS, 200*time.Millisecond)
	url := "http://" + vipAddr.String() + ":8080/"

	samples := startVIPSampler(t, watch, client, url, 3000)
	waitPage := func(d time.Duration, ok func(string) bool) (string, time.Time) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			r := samples.Last()
			if len(r.owners) == 1 && r.page == r.owners[0] && ok(r.page) {
				return r.page, r.at
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("client did not reach a VIP owner within %s; last round %+v", d, samples.Last())
		return "", time.Time{}
	}
	leader, _ := waitPage(ttl+3*time.Second, func(string) bool { return true })
	time.Sleep(500 * time.Millisecond)

	cut := time.Now()
	net.Cut(net.Host(leader))
	newLeader, at := waitPage(grace+ttl+5*time.Second, func(p string) bool { return p != leader })
	took := at.Sub(cut)
	bound := grace + retry + 500*time.Millisecond
	if took > bound {
		t.Fatalf("VIP moved from %s to %s %s after the link went down, want <= %s", leader, newLeader, took, bound)
	}
	if took < grace {
		t.Fatalf("VIP moved %s after the link went down, before the %s grace", took, grace)
	}
	t.Logf("link down on %s: client reached %s through the VIP after %s (grace %s)", leader, newLeader, took.Round(time.Millisecond), grace)
	st, err := nodes[leader].Status()
	if err != nil || st.Role != agent.RoleStandby || st.VIPLink != "down" {
		t.Fatalf("old leader status: role %s vip_link %q err %v", st.Role, st.VIPLink, err)
	}

	// Link back: the old leader campaigns again but leadership stays.
	net.Restore(net.Host(leader))
	waitStatus(t, nodes[leader], 3*time.Second, "a campaigning follower with its link up", func(s agent.Status) bool {
		return s.Role == agent.RoleFollower && s.Campaigning && s.VIPLink == "up"
	})
	time.Sleep(2 * ttl)
	if r := samples.Last(); len(r.owners) != 1 || r.owners[0] != newLeader || r.page != newLeader {
		t.Fatalf("after the link came back: VIP on %v, page %q, want %s", r.owners, r.page, newLeader)
	}
	samples.Stop()
	rounds := samples.Rounds()
	for _, r := range rounds {
		if len(r.owners) > 1 {
			t.Fatalf("VIP on %s at %s", strings.Join(r.owners, ","), r.at.Format("15:04:05.000"))
		}
	}
	t.Logf("%d rounds, VIP never on two nodes", len(rounds))
}
