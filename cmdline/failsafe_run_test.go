//go:build unix

package cmdline

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbhc/lbhc/agent"
)

// freePort returns a loopback port that was free a moment ago (network
// "udp" or "tcp").
func freePort(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func socketStatus(t *testing.T, stateDir string) (agent.Status, bool) {
	t.Helper()
	cl := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(stateDir, adminSocketName))
		}}}
	resp, err := cl.Get("http://lbhc/status")
	if err != nil {
		return agent.Status{}, false
	}
	defer resp.Body.Close()
	var s agent.Status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return agent.Status{}, false
	}
	return s, true
}

// Two `lbhc run` in this process with --failsafe over the real peer
// channel on loopback and the file backend: the nodes see each other, the
// record carries lease-ttl + P, and a leader whose lease file stays
// locked keeps leading on its peer's promise, then renews without a
// flap when the lock is free again.
func TestFailsafeRunWiring(t *testing.T) {
	dir := t.TempDir()
	key := peerKeyFile(t, 0o600, testPeerKey)
	lease := filepath.Join(dir, "group.lease")
	ids := []string{"a", "b"}
	ports := map[string]string{"a": freePort(t, "udp"), "b": freePort(t, "udp")}
	peers := "a=127.0.0.1:" + ports["a"] + ",b=127.0.0.1:" + ports["b"]
	done := map[string]chan error{}
	for _, id := range ids {
		app := newApp()
		logf, err := os.Create(filepath.Join(dir, id+".log"))
		if err != nil {
			t.Fatal(err)
		}
		app.Writer, app.ErrWriter = io.Discard, logf
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan error, 1)
		done[id] = ch
		args := []string{"lbhc", "run", "--node-id", id, "--state-dir", filepath.Join(dir, id), "--lease-file", lease,
			"--admin-address", "127.0.0.1:0", "--probe-port", freePort(t, "tcp"), "--probe-kernel-fence=false",
			"--lease-ttl", "3s", "--renew-deadline", "2s", "--retry-period", "500ms",
			"--peer", peers, "--peer-listen", "127.0.0.1:" + ports[id], "--peer-key-file", key,
			"--failsafe", "--failsafe-promise", "2s", "--log-level", "debug"}
		go func() { ch <- app.RunContext(ctx, args) }()
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-ch:
				if err != nil {
					t.Errorf("node %s: %v", id, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("node %s did not stop", id)
			}
			logf.Close()
			if t.Failed() || testing.Verbose() {
				b, _ := os.ReadFile(filepath.Join(dir, id+".log"))
				t.Logf("%s.log:\n%s", id, b)
			}
		})
	}
	// Wait for a leader and for each node to see the other up.
	var leader string
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("no leader with both peers up within 15 s")
		}
		ok := true
		for _, id := range ids {
			s, got := socketStatus(t, filepath.Join(dir, id))
			if !got || len(s.Peers) != 1 || !s.Peers[0].Up || s.Failsafe == nil || !s.Failsafe.Enabled {
				ok = false
				break
			}
			if s.Role == agent.RoleLeader {
				leader = id
			}
		}
		if ok && leader != "" {
			break
		}
	}
	raw, err := os.ReadFile(lease)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"lease_duration_ms":5000`) {
		t.Fatalf("lease record %s: want lease_duration_ms 5000 (lease-ttl 3s + promise 2s)", raw)
	}

	// The lease file's lock is held by someone else (a stuck process, a
	// hung NFS server): every write times out, none is a conflict.
	lockf, err := os.OpenFile(lease+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lockf.Close()
	if err := syscall.Flock(int(lockf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	outage := time.Now()
	sawActive := false
	for time.Since(outage) < 8*time.Second { // four renew deadlines
		s, got := socketStatus(t, filepath.Join(dir, leader))
		if got && s.Role != agent.RoleLeader {
			t.Fatalf("%s demoted %s into the outage (%s) although its peer promised", leader, time.Since(outage), s.LastReason)
		}
		if got && s.Failsafe != nil && s.Failsafe.Active {
			sawActive = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !sawActive {
		t.Fatal("failsafe never showed active in /status")
	}
	if err := syscall.Flock(int(lockf.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	s, _ := socketStatus(t, filepath.Join(dir, leader))
	if s.Role != agent.RoleLeader || s.Failsafe == nil || s.Failsafe.Active {
		t.Fatalf("after the outage: role %s failsafe %+v (%s)", s.Role, s.Failsafe, s.LastReason)
	}
}
