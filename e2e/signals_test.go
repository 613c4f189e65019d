//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestSignals: SIGHUP is ignored (the leader keeps leading, the process
// lives); SIGTERM with a demote hook slower than --shutdown-timeout exits
// within the timeout plus 100 ms, with the VIP removed and the lease
// released, so the other node takes over within one retry period instead
// of a lease TTL.
func TestSignals(t *testing.T) {
	net := NewNet(t, "n1", "n2")
	vipAddr := netip.MustParseAddr(fmt.Sprintf("10.77.%d.100", net.subnet))
	lease := t.TempDir() + "/vip.lease"
	const budget = 300 * time.Millisecond
	nodes := map[string]*Node{}
	var hosts []*Host
	for _, name := range []string{"n1", "n2"} {
		h := net.Host(name)
		hosts = append(hosts, h)
		nodes[name] = StartNode(t, h, append([]string{"--lease-file", lease, "--vip", vipAddr.String(),
			"--vip-interface", "eth0", "--garp-count", "1", "--on-demote", "sleep 5",
			"--shutdown-timeout", budget.String()}, fastTiming...)...)
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

	n.Signal(syscall.SIGHUP)
	if n.Wait(time.Second) {
		t.Fatalf("SIGHUP stopped the leader (exit %d)", n.ExitCode())
	}
	if st, err := n.Status(); err != nil || st.Role != "leader" {
		t.Fatalf("after SIGHUP: %+v %v; want still leader", st, err)
	}

	start := time.Now()
	n.Signal(syscall.SIGTERM)
	if !n.Wait(5 * time.Second) {
		t.Fatal("SIGTERM did not stop the leader")
	}
	exited := time.Now()
	if took := exited.Sub(start); took > budget+100*time.Millisecond {
		t.Fatalf("SIGTERM to exit took %s; --shutdown-timeout %s", took, budget)
	}
	if code := n.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if o := watch.owners(); slices.Contains(o, leader) {
		t.Fatalf("VIP still on %s after its exit", leader)
	}
	for !slices.Equal(watch.owners(), []string{other}) {
		if d := time.Since(exited); d > retry+300*time.Millisecond {
			t.Fatalf("%s did not take over within one retry period (%s) of the exit: %s, owners %v", other, retry, d, watch.owners())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("SIGTERM to exit %s; exit to takeover %s", exited.Sub(start).Round(time.Millisecond), time.Since(exited).Round(time.Millisecond))
}

// TestSIGTERMDuringPromotion: a promote hook that would run 30 s is killed
// by SIGTERM, and the process exits within --shutdown-timeout plus 100 ms
// (the old agent waited for the promotion: longer than systemd's stop
// timeout, so systemd killed it).
func TestSIGTERMDuringPromotion(t *testing.T) {
	net := NewNet(t, "n1")
	const budget = 500 * time.Millisecond
	n := StartNode(t, net.Host("n1"), append([]string{"--lease-file", t.TempDir() + "/p.lease",
		"--on-promote", "sleep 30", "--shutdown-timeout", budget.String()}, fastTiming...)...)
	for end := time.Now().Add(ttl + 3*time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err := n.Status(); err == nil && st.Transition == "promoting" {
			break
		}
		if time.Now().After(end) {
			t.Fatal("promotion never started")
		}
	}
	start := time.Now()
	n.Signal(syscall.SIGTERM)
	if !n.Wait(5 * time.Second) {
		t.Fatal("SIGTERM did not stop the promoting node")
	}
	if took := time.Since(start); took > budget+100*time.Millisecond {
		t.Fatalf("SIGTERM during the promotion: exit after %s; --shutdown-timeout %s", took, budget)
	}
	if code := n.ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
