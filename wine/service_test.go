//go:build linux && wine

package wine

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/itest"
)

// TestServiceCycle installs lbhc.exe as a Windows service with an
// environment file (BOM, comments, quotes, CRLF: the file the service
// wrapper reads at every start), starts it through Wine's service control
// manager, checks that the settings from the file took effect (node id,
// ports) and that it leads and answers, then uninstalls it, which stops it
// first. Wine lacks delayed automatic start and failure actions on error
// exits (ERROR_INVALID_LEVEL): install warns and goes on. Wine's event log
// is a stub, so the log lines are not checked.
func TestServiceCycle(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	// Services live while a non-service process of the prefix runs: Wine
	// ends them, and services.exe, when the last one exits. cmd.exe
	// reading a pipe keeps the session open until the test closes it. It
	// starts first: a service created while services.exe of an ending
	// session shuts down would be lost.
	ctx, cancel := context.WithCancel(context.Background())
	keeper := e.command(ctx, "cmd.exe")
	stdin, err := keeper.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := keeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cancel()
		_ = keeper.Wait()
	}()

	name := "lbhc-wine-" + strconv.Itoa(os.Getpid())
	probe, admin := itest.FreePort(t), itest.FreePort(t)
	env := "\ufeff# lbhc settings\r\n; Windows-style comment\r\n\r\n" +
		"LBHC_NODE_ID='svc1'\r\n" +
		"LBHC_PROBE_PORT=" + strconv.Itoa(probe) + "\r\n" +
		"LBHC_ADMIN_ADDRESS = \"127.0.0.1:" + strconv.Itoa(admin) + "\"\r\n" +
		"LBHC_LEASE_FILE=" + winPath(filepath.Join(dir, "svc.lease")) + "\r\n" +
		"LBHC_STATE_DIR=" + winPath(filepath.Join(dir, "state")) + "\r\n" +
		"LBHC_LEASE_TTL=3s\r\nLBHC_RENEW_DEADLINE=2s\r\nLBHC_RETRY_PERIOD=500ms\r\n"
	envFile := filepath.Join(dir, "lbhc.env")
	if err := os.WriteFile(envFile, []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.env")
	if err := os.WriteFile(bad, []byte("export LBHC_NODE_ID=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.run("service", "install", "--name", name, "--env-file", winPath(bad)); r.code != 2 || !strings.Contains(r.stderr, "--env-file") {
		t.Errorf("install with a bad env file: exit %d, %q; want 2 naming --env-file", r.code, r.stderr)
	}

	r := e.run("service", "install", "--name", name, "--display-name", name, "--start", "manual", "--env-file", winPath(envFile))
	if r.code != 0 {
		t.Fatalf("service install: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	installed := true
	defer func() {
		if installed {
			e.run("service", "uninstall", "--name", name)
		}
	}()
	// Not started by the SCM: a clear error, not a silent exit.
	if r := e.run("service", "run", "--name", name); r.code != 1 || !strings.Contains(r.stderr, "service control manager") {
		t.Errorf("service run from a console: exit %d, %q", r.code, r.stderr)
	}

	// Wine's services.exe holds the database lock while it starts its own
	// automatic services, for a few seconds after the prefix's first
	// process (the keeper): StartService fails with
	// ERROR_SERVICE_DATABASE_LOCKED meanwhile. Retry for up to 60 s.
	for deadline := time.Now().Add(60 * time.Second); ; {
		r := e.runProg("net.exe", "start", name)
		if r.code == 0 {
			break
		}
		if !strings.Contains(r.stdout, "locked") || time.Now().After(deadline) {
			t.Fatalf("net start %s: exit %d, %q %q", name, r.code, r.stdout, r.stderr)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if r := e.run("service", "install", "--name", name); r.code == 0 {
		t.Errorf("second install of %s succeeded", name)
	}
	n := &node{id: "svc1", probe: probe, admin: admin, t: t, e: e, done: make(chan struct{})}
	n.waitRole("leader", 15*time.Second)
	if st, _ := n.status(); st.NodeID != "svc1" {
		t.Errorf("service node id %q, want svc1 from the env file", st.NodeID)
	}
	if !answers(probe) {
		t.Errorf("the service leads but does not answer the probe on %d", probe)
	}
	if r := e.run("status", "--admin-address", n.adminAddr()); r.code != 0 || !strings.Contains(r.stdout, "svc1") {
		t.Errorf("status against the service: exit %d, %q", r.code, r.stdout)
	}

	start := time.Now()
	r = e.run("service", "uninstall", "--name", name)
	if r.code != 0 {
		t.Fatalf("service uninstall: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	installed = false
	t.Logf("uninstall (stop, demote, release, delete) took %s", time.Since(start))
	if answers(probe) {
		t.Errorf("probe port %d still answers after uninstall", probe)
	}
	if _, ok := n.status(); ok {
		t.Errorf("admin API still answers after uninstall")
	}
	if r := e.run("service", "uninstall", "--name", name); r.code == 0 {
		t.Errorf("uninstall of a removed service succeeded")
	}
}
