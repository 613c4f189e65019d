//go:build linux

package e2e

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Short timings for the end-to-end runs: lease-ttl 3 s, renew-deadline 2 s,
// retry-period 500 ms.
const (
	ttl   = 3 * time.Second
	retry = 500 * time.Millisecond
)

var fastTiming = []string{"--lease-ttl", "3s", "--renew-deadline", "2s", "--retry-period", "500ms"}

func nodeByName(nodes []*Node, name string) *Node {
	for _, n := range nodes {
		if n.Host.Name == name {
			return n
		}
	}
	return nil
}

// TestCoreFileLease is the core end-to-end test: three nodes on a bridge,
// one file lease; exactly one answers; kill -9, SIGTERM and SIGSTOP of the
// leader; never two answering at once.
func TestCoreFileLease(t *testing.T) {
	net := NewNet(t, "n1", "n2", "n3")
	lease := filepath.Join(t.TempDir(), "group.lease")
	var nodes []*Node
	for _, h := range net.Hosts {
		nodes = append(nodes, StartNode(t, h, append([]string{"--election", "file", "--lease-file", lease}, fastTiming...)...))
	}
	s := StartSampler(t, net, 26001, net.Hosts, 20*time.Millisecond, 6000)
	leader := s.WaitSingle(t, ttl+2*time.Second)
	// TCP-handshake view of the same ports: with the kernel fence, a frozen
	// leader's kernel stops completing handshakes at its deadline.
	hs := StartHandshakeSampler(t, net, 26001, net.Hosts, 20*time.Millisecond, 6000)
	time.Sleep(time.Second)
	if c := s.Current(); len(c) != 1 || c[0] != leader {
		t.Fatalf("leadership not stable: %v after %s", c, leader)
	}
	st, err := nodeByName(nodes, leader).Status()
	if err != nil || st.Role != "leader" || st.Leader != leader || st.Term == 0 {
		t.Fatalf("leader status %+v, %v", st, err)
	}

	// kill -9: another node answers within lease-ttl + retry-period + 0.5 s.
	old := nodeByName(nodes, leader)
	killed := time.Now()
	old.Signal(syscall.SIGKILL)
	old.Wait(5 * time.Second)
	at, who, ok := s.FirstAnswerBy(killed, leader)
	for !ok && time.Since(killed) < ttl+retry+3*time.Second {
		time.Sleep(20 * time.Millisecond)
		at, who, ok = s.FirstAnswerBy(killed, leader)
	}
	if !ok || at.Sub(killed) > ttl+retry+500*time.Millisecond {
		t.Fatalf("after kill -9 of %s: new answer by %q after %s, want <= %s\n%s", leader, who, at.Sub(killed), ttl+retry+500*time.Millisecond, s.Timeline())
	}
	t.Logf("kill -9: %s answered %s after %s died", who, at.Sub(killed).Round(time.Millisecond), leader)
	old.Start()

	// SIGTERM: the leader demotes and releases; another answers within
	// retry-period + 0.5 s.
	time.Sleep(time.Second)
	leader = s.WaitSingle(t, time.Second)
	old = nodeByName(nodes, leader)
	stopped := time.Now()
	old.Signal(syscall.SIGTERM)
	at, who, ok = s.FirstAnswerBy(stopped, leader)
	for !ok && time.Since(stopped) < retry+3*time.Second {
		time.Sleep(20 * time.Millisecond)
		at, who, ok = s.FirstAnswerBy(stopped, leader)
	}
	if !ok || at.Sub(stopped) > retry+500*time.Millisecond {
		t.Fatalf("after SIGTERM of %s: new answer by %q after %s, want <= %s\n%s", leader, who, at.Sub(stopped), retry+500*time.Millisecond, s.Timeline())
	}
	t.Logf("SIGTERM: %s answered %s after %s was asked to stop", who, at.Sub(stopped).Round(time.Millisecond), leader)
	if !old.Wait(5*time.Second) || old.ExitCode() != 0 {
		t.Fatalf("SIGTERM: %s exit code %d, want 0", leader, old.ExitCode())
	}
	old.Start()

	// SIGSTOP for longer than the TTL, then SIGCONT: the frozen leader must
	// never answer alongside the new one.
	time.Sleep(time.Second)
	leader = s.WaitSingle(t, time.Second)
	old = nodeByName(nodes, leader)
	frozen := time.Now()
	old.Signal(syscall.SIGSTOP)
	time.Sleep(ttl + 2*time.Second)
	if _, who, ok := s.FirstAnswerBy(frozen, leader); !ok {
		t.Fatalf("nobody took over from the frozen %s\n%s", leader, s.Timeline())
	} else {
		t.Logf("SIGSTOP: %s took over from the frozen %s", who, leader)
	}
	old.Signal(syscall.SIGCONT)
	time.Sleep(2 * time.Second)
	s.Stop()
	hs.Stop()
	if d := hs.DoubleAnswers(); len(d) > 0 {
		t.Fatalf("%d rounds with two nodes completing TCP handshakes on the probe port, first at %s: %v\n%s", len(d), d[0].At.Format("15:04:05.000"), d[0].Answered, hs.Timeline())
	}
	if d := s.DoubleAnswers(); len(d) > 0 {
		t.Fatalf("%d sampling rounds with two nodes answering, first at %s: %v\n%s", len(d), d[0].At.Format("15:04:05.000"), d[0].Answered, s.Timeline())
	}
	if c := s.Current(); len(c) != 1 {
		t.Fatalf("after SIGCONT: %v answer, want exactly one\n%s", c, s.Timeline())
	}
	t.Logf("%d sampling rounds, never two answering\n%s", len(s.Samples()), s.Timeline())
}
