//go:build linux

package agent

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/itest"
)

// copyTestBinary puts this test binary where another user can run it.
func copyTestBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// publicDir is a directory every user may traverse, so only the socket's
// own mode stands between another user and the agent.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lbhc-admin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOtherUserCannotChangeState runs the client as nobody (uid 65534):
// over TCP it gets 403 for switchover, standby and resume, and it cannot
// connect to the socket; the agent stays leader and out of standby.
func TestOtherUserCannotChangeState(t *testing.T) {
	itest.Root(t)
	pub := publicDir(t)
	bin := copyTestBinary(t, pub)
	state := filepath.Join(pub, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, election.NewMemoryStore(), Config{StateDir: state}, &fakeVIPs{r: &recorder{}}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	sock := filepath.Join(state, "admin.sock")
	asNobody := func(spec string) string {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), childEnv+"="+spec)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client as nobody: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, op := range []string{"switchover", "standby", "resume"} {
		if got := asNobody("post http://" + h.a.AdminAddr() + "/" + op); got != "403" {
			t.Errorf("nobody POST /%s over TCP: %s; want 403", op, got)
		}
		if got := asNobody("post-unix " + sock + " /" + op); !strings.Contains(got, "permission denied") {
			t.Errorf("nobody POST /%s over the socket: %s; want permission denied", op, got)
		}
	}
	if h.a.currentRole() != RoleLeader || h.a.isStandby() {
		t.Fatalf("after another user's calls: role %s, standby %v", h.a.currentRole(), h.a.isStandby())
	}
	// The owner still can.
	resp, err := unixClient(sock).Post("http://lbhc/standby", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("root POST /standby over the socket: %v %v", resp, err)
	}
	resp.Body.Close()
	h.waitRole(RoleStandby, time.Second)
}

// TestAdminFloodKeepsLeader: 5,000 connections to the admin port at once
// (from a child process, so they do not count against this process's
// descriptors) leave the node leading; this process's descriptors stay
// within the cap, and the socket keeps answering.
func TestAdminFloodKeepsLeader(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, election.NewMemoryStore(), Config{StateDir: dir}, &fakeVIPs{r: &recorder{}}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	term := h.a.Snapshot().Term
	base := openFDs(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=flood "+h.a.AdminAddr()+" 5000")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	maxFDs := base
	sock := unixClient(filepath.Join(dir, "admin.sock"))
	deadline := time.After(60 * time.Second)
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("flood client: %v", err)
			}
			running = false
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("flood client did not finish within 60s")
		case <-time.After(20 * time.Millisecond):
		}
		maxFDs = max(maxFDs, openFDs(t))
		if h.a.currentRole() != RoleLeader {
			t.Fatalf("leader demoted during the admin flood")
		}
	}
	resp, err := sock.Get("http://lbhc/status")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("socket /status after the flood: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	t.Logf("flood: %s connections made; descriptors %d before, at most %d during", strings.TrimSpace(out.String()), base, maxFDs)
	if n, _ := strconv.Atoi(strings.TrimSpace(out.String())); n < 1000 {
		t.Fatalf("flood made only %d connections; the test did not flood", n)
	}
	// The cap (64) plus the socket client and slack for the runtime.
	if maxFDs > base+defaultAdminMaxConns+16 {
		t.Fatalf("admin flood raised open descriptors from %d to %d (cap %d)", base, maxFDs, defaultAdminMaxConns)
	}
	if s := h.a.Snapshot(); s.Role != RoleLeader || s.Term != term {
		t.Fatalf("after the flood: role %s term %d; want leader term %d", s.Role, s.Term, term)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}
