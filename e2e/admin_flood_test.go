//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/itest"
)

// TestAdminFloodKeepsLeaseDescriptors floods the admin port of the real
// binary to starve the lease of descriptors: the leader runs with 256
// descriptors (RLIMIT_NOFILE) on the file backend, which opens its lock
// file at every renewal, and 5,000 connections to its admin port are
// opened and held. The admin API's
// connection cap keeps descriptors for the lease: the node stays leader
// with the same term through the flood and after it.
func TestAdminFloodKeepsLeaseDescriptors(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	adminPort := itest.FreePort(t)
	admin := "127.0.0.1:" + strconv.Itoa(adminPort)
	log, err := os.Create(filepath.Join(dir, "lbhc.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(lbhcBin, "run", "--node-id", "a", "--election", "file", "--lease-file", filepath.Join(dir, "group.lease"),
		"--state-dir", state, "--admin-address", admin, "--probe-address", "127.0.0.1",
		"--probe-port", strconv.Itoa(itest.FreePort(t)), "--lease-ttl", "3s", "--renew-deadline", "2s", "--retry-period", "500ms")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("---- lbhc log ----\n%s", tail(string(b), 40))
		}
	})
	lim := unix.Rlimit{Cur: 256, Max: 256}
	if err := unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	sock := filepath.Join(state, "admin.sock")
	// One client for every sample: a client per call would leave each
	// call's idle keep-alive connection open, and past 64 of them the
	// socket's own connection cap closes new ones.
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	defer c.CloseIdleConnections()
	status := func() (agent.Status, error) {
		var s agent.Status
		resp, err := c.Get("http://lbhc/status")
		if err != nil {
			return s, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return s, fmt.Errorf("status %s", resp.Status)
		}
		return s, json.NewDecoder(resp.Body).Decode(&s)
	}
	var before agent.Status
	end := time.Now().Add(10 * time.Second)
	for {
		if before, err = status(); err == nil && before.Role == "leader" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("node did not lead: %+v %v", before, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The flood: 5,000 connections opened and held (idle, no request) for
	// 4 s, that is 8 renewals; closed ones are not replaced.
	conns := make([]net.Conn, 0, 5000)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 5000 {
		c, err := net.DialTimeout("tcp", admin, 500*time.Millisecond)
		if err != nil {
			continue // backlog full: the kernel dropped the SYN
		}
		conns = append(conns, c)
	}
	if len(conns) < 1000 {
		t.Fatalf("only %d of 5,000 connections opened: no flood", len(conns))
	}
	held := len(conns)
	holdEnd := time.Now().Add(4 * time.Second)
	samples := 0
	for time.Now().Before(holdEnd) {
		s, err := status()
		if err != nil || s.Role != "leader" || s.Term != before.Term {
			t.Fatalf("during the flood (%d connections held): %+v %v; want leader at term %d", len(conns), s.Role, err, before.Term)
		}
		samples++
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	time.Sleep(time.Second)
	s, err := status()
	if err != nil || s.Role != "leader" || s.Term != before.Term {
		t.Fatalf("after the flood: %+v %v; want leader at term %d", s.Role, err, before.Term)
	}
	t.Logf("%d of 5,000 admin connections opened against a 256-descriptor leader; %d status samples over 4 s: leader at term %d throughout", held, samples, s.Term)
}
