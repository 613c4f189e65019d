//go:build linux

package e2e

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startGroup starts lbhc on every host of net with a shared file lease and
// the fast timings plus extra arguments per host.
func startGroup(t *testing.T, net *Net, extra func(h *Host) []string) map[string]*Node {
	lease := filepath.Join(t.TempDir(), "ops.lease")
	nodes := map[string]*Node{}
	for _, h := range net.Hosts {
		args := append([]string{"--lease-file", lease}, fastTiming...)
		if extra != nil {
			args = append(args, extra(h)...)
		}
		nodes[h.Name] = StartNode(t, h, args...)
	}
	return nodes
}

// waitNewLeader waits until a node other than old answers alone and
// returns it with the time since from.
func waitNewLeader(t *testing.T, s *Sampler, from time.Time, old string, within time.Duration) (string, time.Duration) {
	t.Helper()
	end := from.Add(within + 2*time.Second)
	for time.Now().Before(end) {
		if at, who, ok := s.FirstAnswerBy(from, old); ok {
			return who, at.Sub(from)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no node other than %s answered within %s\n%s", old, within+2*time.Second, s.Timeline())
	return "", 0
}

// TestApplicationFailureMovesLeadership: stop the protected application on
// the leader → another node answers within check-interval × fall +
// retry-period + 0.5 s.
func TestApplicationFailureMovesLeadership(t *testing.T) {
	net := NewNet(t, "n1", "n2", "n3")
	for _, h := range net.Hosts {
		StartApp(t, h, 8080)
	}
	apps := map[string]*App{}
	for _, h := range net.Hosts {
		apps[h.Name] = StartApp(t, h, 8081)
	}
	startGroup(t, net, func(*Host) []string {
		return []string{"--check", "tcp://127.0.0.1:8081", "--check-interval", "200ms", "--check-timeout", "100ms",
			"--check-fall", "2", "--check-rise", "1"}
	})
	s := StartSampler(t, net, 26001, net.Hosts, 20*time.Millisecond, 3000)
	leader := s.WaitSingle(t, ttl+2*time.Second)
	time.Sleep(500 * time.Millisecond)
	failed := time.Now()
	apps[leader].Stop()
	bound := 2*200*time.Millisecond + retry + 500*time.Millisecond
	who, took := waitNewLeader(t, s, failed, leader, bound)
	if took > bound {
		t.Fatalf("application failure on %s: %s answered after %s, want <= %s\n%s", leader, who, took, bound, s.Timeline())
	}
	t.Logf("application failure on %s: %s answered after %s (bound %s)", leader, who, took.Round(time.Millisecond), bound)
	time.Sleep(time.Second)
	if d := s.DoubleAnswers(); len(d) > 0 {
		t.Fatalf("two nodes answered at %s\n%s", d[0].At.Format("15:04:05.000"), s.Timeline())
	}
	if c := s.Current(); len(c) != 1 || c[0] == leader {
		t.Fatalf("after the failure %v answer, want one healthy node", c)
	}
}

// TestSwitchover: `lbhc switchover` on the leader moves leadership in under
// one retry period + 0.5 s and reports the new leader.
func TestSwitchover(t *testing.T) {
	net := NewNet(t, "n1", "n2", "n3")
	nodes := startGroup(t, net, nil)
	s := StartSampler(t, net, 26001, net.Hosts, 20*time.Millisecond, 3000)
	leader := s.WaitSingle(t, ttl+2*time.Second)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	out, err := nodes[leader].Control("switchover")
	if err != nil {
		t.Fatalf("lbhc switchover: %v: %s", err, out)
	}
	who, took := waitNewLeader(t, s, start, leader, retry+500*time.Millisecond)
	if took > retry+500*time.Millisecond {
		t.Fatalf("switchover took %s, want <= %s\n%s", took, retry+500*time.Millisecond, s.Timeline())
	}
	if !strings.Contains(out, "leadership moved to "+who) {
		t.Fatalf("switchover output %q does not name the new leader %s", out, who)
	}
	t.Logf("switchover %s → %s in %s; CLI said %q", leader, who, took.Round(time.Millisecond), strings.TrimSpace(out))
	// Switchover on a follower fails clearly.
	if out, err := nodes[leader].Control("switchover"); err == nil || !strings.Contains(out, "does not lead") {
		t.Fatalf("switchover on a follower: %v %q", err, out)
	}
	if d := s.DoubleAnswers(); len(d) > 0 {
		t.Fatalf("two nodes answered during switchover\n%s", s.Timeline())
	}
}

// TestStandbySurvivesRestart: a node in standby never leads, also after a
// restart, until `lbhc resume`.
func TestStandbySurvivesRestart(t *testing.T) {
	net := NewNet(t, "n1", "n2")
	nodes := startGroup(t, net, nil)
	s := StartSampler(t, net, 26001, net.Hosts, 20*time.Millisecond, 4000)
	leader := s.WaitSingle(t, ttl+2*time.Second)
	other := "n1"
	if leader == "n1" {
		other = "n2"
	}
	// Standby on the leader: it demotes and the other node takes over.
	if out, err := nodes[leader].Control("standby"); err != nil {
		t.Fatalf("standby: %v %s", err, out)
	}
	if who, _ := waitNewLeader(t, s, time.Now(), leader, retry+500*time.Millisecond); who != other {
		t.Fatalf("after standby %s leads, want %s", who, other)
	}
	// Restart the standby node: it comes back in standby.
	nodes[leader].Signal(syscall.SIGTERM)
	nodes[leader].Wait(5 * time.Second)
	nodes[leader].Start()
	time.Sleep(time.Second)
	st, err := nodes[leader].Status()
	if err != nil || st.Role != "standby" || !st.Standby || st.Campaigning {
		t.Fatalf("after restart: %+v %v; want role standby, not campaigning", st, err)
	}
	// Stop the only other node gracefully: the lease is free, yet the
	// standby node must not take it.
	nodes[other].Signal(syscall.SIGTERM)
	nodes[other].Wait(5 * time.Second)
	quiet := time.Now()
	time.Sleep(ttl + time.Second)
	if _, who, ok := s.FirstAnswerBy(quiet, ""); ok {
		t.Fatalf("%s answered while the only live node was in standby\n%s", who, s.Timeline())
	}
	resumed := time.Now()
	if out, err := nodes[leader].Control("resume"); err != nil {
		t.Fatalf("resume: %v %s", err, out)
	}
	at, who, ok := s.FirstAnswerBy(resumed, "")
	for !ok && time.Since(resumed) < retry+2*time.Second {
		time.Sleep(20 * time.Millisecond)
		at, who, ok = s.FirstAnswerBy(resumed, "")
	}
	if !ok || who != leader || at.Sub(resumed) > retry+500*time.Millisecond {
		t.Fatalf("after resume: %q answered after %s, want %s within %s\n%s", who, at.Sub(resumed), leader, retry+500*time.Millisecond, s.Timeline())
	}
}

// TestPriorityDecidesFirstLeader: with the lease free, the best priority
// wins even when it starts last.
func TestPriorityDecidesFirstLeader(t *testing.T) {
	net := NewNet(t, "n1", "n2", "n3")
	lease := filepath.Join(t.TempDir(), "prio.lease")
	prio := map[string]string{"n1": "3", "n3": "2", "n2": "1"}
	var nodes []*Node
	for _, name := range []string{"n1", "n3", "n2"} { // worst first
		nodes = append(nodes, StartNode(t, net.Host(name), append([]string{"--lease-file", lease, "--priority", prio[name]}, fastTiming...)...))
		time.Sleep(300 * time.Millisecond)
	}
	s := StartSampler(t, net, 26001, net.Hosts, 20*time.Millisecond, 1000)
	if who := s.WaitSingle(t, ttl+2*time.Second); who != "n2" {
		t.Fatalf("first leader %s, want n2 (priority 1)\n%s", who, s.Timeline())
	}
	// Followers learn the leader at their next look at the lease (one
	// retry period).
	time.Sleep(2 * retry)
	st, err := nodes[0].Status()
	if err != nil || st.Priority != 3 || st.Leader != "n2" {
		t.Fatalf("n1 status %+v %v; want priority 3 and leader n2", st, err)
	}
}
