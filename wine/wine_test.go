//go:build linux && wine

package wine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbhc/lbhc/itest"
)

// lbhcExe is the Windows build, made once per test binary by TestMain.
var lbhcExe string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lbhc-wine-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lbhcExe = filepath.Join(dir, "lbhc.exe")
	build := exec.Command("go", "build", "-o", lbhcExe, "github.com/lbhc/lbhc")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "GOOS=windows go build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shimPath is where Go's Windows runtime looks for ProcessPrng.
const shimPath = "drive_c/windows/system32/bcryptprimitives.dll"

// wineEnv is a prepared Wine prefix.
type wineEnv struct {
	t      *testing.T
	wine   string
	prefix string
}

// setup returns the prefix scripts/e2e/test_windows_wine.sh prepared. The
// variables missing skip the test (fail under LBHC_REQUIRE_INTEGRATION=1);
// a prefix without the shim fails it: every lbhc.exe would abort.
func setup(t *testing.T) *wineEnv {
	t.Helper()
	e := &wineEnv{t: t, wine: os.Getenv("LBHC_TEST_WINE"), prefix: os.Getenv("LBHC_TEST_WINEPREFIX")}
	if e.wine == "" || e.prefix == "" {
		itest.Require(t, "LBHC_TEST_WINE and LBHC_TEST_WINEPREFIX are not set: run scripts/e2e/test_windows_wine.sh, "+
			"which installs Wine, builds the ProcessPrng shim and prepares a Wine prefix")
	}
	if _, err := os.Stat(filepath.Join(e.prefix, shimPath)); err != nil {
		t.Fatalf("the ProcessPrng shim is missing from the Wine prefix (%v): Go's Windows runtime "+
			"aborts with \"bcryptprimitives.dll not found\" under Wine 8 without it; build "+
			"tools/wine/bcryptprimitives.c into %s (scripts/e2e/test_windows_wine.sh does)", err, shimPath)
	}
	return e
}

// command is `wine PROG ARGS...` in the prefix, Wine's own diagnostics off.
func (e *wineEnv) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.wine, append([]string{prog}, args...)...)
	cmd.Env = append(os.Environ(), "WINEPREFIX="+e.prefix, "WINEDEBUG=-all")
	// The first Wine process of a prefix starts wineserver and the system
	// processes (services.exe, ...), which inherit its stdout and stderr
	// and outlive it: Wait stops waiting for those pipes this long after
	// the process itself has exited.
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// result of a finished command.
type result struct {
	stdout, stderr string
	code           int
}

// run runs lbhc.exe ARGS to completion (bounded by 60 s).
func (e *wineEnv) run(args ...string) result { return e.runProg(lbhcExe, args...) }

func (e *wineEnv) runProg(prog string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.command(ctx, prog, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrWaitDelay):
		r.code = cmd.ProcessState.ExitCode()
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		e.t.Fatalf("wine %s %v: %v", filepath.Base(prog), args, err)
	}
	if ctx.Err() != nil {
		e.t.Fatalf("wine %s %v did not finish within 60 s", filepath.Base(prog), args)
	}
	return r
}

// winPath is the Windows name of a Linux path (Wine maps / to drive Z:).
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

func TestVersionHelpBadInput(t *testing.T) {
	e := setup(t)
	r := e.run("version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "lbhc ") {
		t.Fatalf("version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e.run("--help")
	if r.code != 0 || !strings.Contains(r.stdout, "switchover") || !strings.Contains(r.stdout, "service") {
		t.Errorf("--help: exit %d, stdout %q", r.code, r.stdout)
	}
	r = e.run("run", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--lease-ttl") {
		t.Errorf("run --help: exit %d", r.code)
	}
	for _, args := range [][]string{
		{"run", "--no-such-flag"},
		{"run", "--lease-ttl", "5s", "--renew-deadline", "10s"},
		{"service", "install", "--name", "bad name"},
	} {
		r = e.run(args...)
		if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, r.code, r.stderr)
		}
	}
}

// TestVIPWithoutIPHelper: Wine's iphlpapi.dll lacks the address functions;
// lbhc refuses the VIP flags at start-up (exit 2) before touching the lease.
func TestVIPWithoutIPHelper(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	lease := filepath.Join(dir, "vip.lease")
	r := e.run("run", "--node-id", "v1", "--lease-file", winPath(lease), "--state-dir", winPath(dir),
		"--vip", "10.9.9.9", "--vip-mode", "loopback", "--vip-interface", "lo",
		"--probe-port", strconv.Itoa(itest.FreePort(t)), "--admin-address", "127.0.0.1:"+strconv.Itoa(itest.FreePort(t)))
	if r.code != 2 || !strings.Contains(r.stderr, "InitializeUnicastIpAddressEntry") || !strings.Contains(r.stderr, "--vip") ||
		strings.Contains(r.stderr, "panic") {
		t.Fatalf("run --vip under Wine: exit %d, stderr %q; want exit 2 naming --vip and the missing function", r.code, r.stderr)
	}
	if _, err := os.Stat(lease); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused run touched the lease file (%v)", err)
	}
}

// node is one `lbhc.exe run` process under Wine.
type node struct {
	id           string
	probe, admin int
	token        string // admin token file: Wine 8 has no AF_UNIX, so no admin socket
	cmd          *exec.Cmd
	log          string
	done         chan struct{}
	killedAt     time.Time
	once         sync.Once
	waitErr      error
	t            *testing.T
	e            *wineEnv
}

// Timing of the failover test: 3s/2s/500ms, as the e2e chaos suite.
const (
	leaseTTL    = 3 * time.Second
	retryPeriod = 500 * time.Millisecond
)

func (e *wineEnv) startNode(t *testing.T, id, lease, stateDir string, priority int, extra ...string) *node {
	t.Helper()
	n := &node{id: id, probe: itest.FreePort(t), admin: itest.FreePort(t), t: t, e: e,
		log: filepath.Join(t.TempDir(), id+".log"), done: make(chan struct{})}
	// Wine 8 implements no AF_UNIX sockets, so the agent serves no admin
	// socket there and state changes go over TCP with the bearer token.
	n.token = filepath.Join(t.TempDir(), id+".token")
	if err := os.WriteFile(n.token, []byte("wine-"+id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--node-id", id, "--election", "file", "--lease-file", winPath(lease),
		"--state-dir", winPath(filepath.Join(stateDir, id)),
		"--lease-ttl", leaseTTL.String(), "--renew-deadline", "2s", "--retry-period", retryPeriod.String(),
		"--priority", strconv.Itoa(priority),
		"--probe-port", strconv.Itoa(n.probe), "--admin-address", n.adminAddr(),
		"--admin-token-file", winPath(n.token)}
	args = append(args, extra...)
	f, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = e.command(context.Background(), lbhcExe, args...)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		f.Close()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			b, _ := os.ReadFile(n.log)
			t.Logf("---- log of %s ----\n%s", id, b)
		}
	})
	return n
}

func (n *node) adminAddr() string { return "127.0.0.1:" + strconv.Itoa(n.admin) }

// kill sends SIGKILL to the Wine process (the Windows process itself:
// Debian's wine script execs the loader) and waits for it to be gone.
func (n *node) kill() {
	n.once.Do(func() {
		n.killedAt = time.Now()
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			n.t.Errorf("%s did not exit within 10 s of SIGKILL", n.id)
		}
	})
}

// status reads /status; ok is false when the agent does not answer.
func (n *node) status() (st struct {
	NodeID string `json:"node_id"`
	Role   string `json:"role"`
	Leader string `json:"leader"`
	Term   int64  `json:"term"`
	// Candidates: the nodes a leader saw campaign (switchover refuses
	// without one).
	Candidates *struct {
		Nodes []string `json:"nodes"`
	} `json:"candidates"`
}, ok bool) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + n.adminAddr() + "/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st) == nil
}

// waitRole polls /status every 100 ms until the node reports role.
func (n *node) waitRole(role string, timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if st, ok := n.status(); ok && st.Role == role {
			return
		}
		select {
		case <-n.done:
			n.t.Fatalf("%s exited (%v) while waiting for role %s", n.id, n.waitErr, role)
		case <-time.After(100 * time.Millisecond):
		}
	}
	st, _ := n.status()
	n.t.Fatalf("%s not %s within %s (status %+v)", n.id, role, timeout, st)
}

// TestFailoverAndControl: two lbhc.exe on one file lease. n1 leads and
// answers; status, switchover, standby and resume move leadership; SIGKILL
// of the leader hands over within lease-ttl + retry-period (+ promote time);
// at no sample do both answer. n1's hooks run through cmd.exe.
func TestFailoverAndControl(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	lease := filepath.Join(dir, "group.lease")
	// n1's promote and demote hooks run through cmd.exe and append the
	// event and term lbhc passes in their environment.
	hookLog := filepath.Join(dir, "hooks.txt")
	hook := "echo %LBHC_EVENT% %LBHC_TERM%>>" + winPath(hookLog)
	n1 := e.startNode(t, "n1", lease, dir, 1, "--on-promote", hook, "--on-demote", hook)
	n1.waitRole("leader", 20*time.Second)
	// Same priority: a priority-2 node would wait a priority step more
	// before taking the expired lease.
	n2 := e.startNode(t, "n2", lease, dir, 1)
	n2.waitRole("follower", 20*time.Second)
	s := startSampler(n1.probe, n2.probe)
	defer func() {
		samples, both := s.finish()
		t.Logf("%d probe samples on both ports", samples)
		if len(both) > 0 {
			t.Errorf("both nodes answered the probe at %d samples, first at %s", len(both), both[0].Format(time.RFC3339Nano))
		}
	}()
	if !answers(n1.probe) || answers(n2.probe) {
		t.Fatalf("after start: n1 answers %v, n2 answers %v; want only n1", answers(n1.probe), answers(n2.probe))
	}

	r := e.run("status", "--admin-address", n2.adminAddr())
	if r.code != 0 || !strings.Contains(r.stdout, "n1") {
		t.Errorf("status on n2: exit %d, %q %q; want the leader n1", r.code, r.stdout, r.stderr)
	}
	r = e.run("status", "--json", "--admin-address", n1.adminAddr())
	if r.code != 0 || !strings.Contains(r.stdout, `"role": "leader"`) && !strings.Contains(r.stdout, `"role":"leader"`) {
		t.Errorf("status --json on n1: exit %d, %q", r.code, r.stdout)
	}

	// The leader refuses a switchover while it knows no other node that
	// campaigns: wait until it has seen n2 in the file lease's roster.
	for end := time.Now().Add(10 * time.Second); ; {
		st, ok := n1.status()
		if ok && st.Candidates != nil && slices.Contains(st.Candidates.Nodes, "n2") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("n1 never saw n2 campaign: %+v", st.Candidates)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Switchover: n1 releases, n2 takes the lease.
	if r = e.run("switchover", "--admin-address", n1.adminAddr(), "--admin-token-file", winPath(n1.token)); r.code != 0 {
		t.Fatalf("switchover: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	n2.waitRole("leader", 10*time.Second)
	n1.waitRole("follower", 5*time.Second)
	b, _ := os.ReadFile(hookLog)
	if got := strings.Fields(string(b)); len(got) != 4 ||
		got[0] != "promote" || got[2] != "demote" || got[1] != got[3] || got[1] == "%LBHC_TERM%" {
		t.Errorf("hook log after switchover = %q; want promote T, demote T of n1's term", b)
	}

	// Standby on the leader: it demotes and stops campaigning; n1 leads.
	if r = e.run("standby", "--admin-address", n2.adminAddr(), "--admin-token-file", winPath(n2.token)); r.code != 0 {
		t.Fatalf("standby: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	n2.waitRole("standby", 10*time.Second)
	n1.waitRole("leader", 10*time.Second)
	if r = e.run("resume", "--admin-address", n2.adminAddr(), "--admin-token-file", winPath(n2.token)); r.code != 0 {
		t.Fatalf("resume: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	n2.waitRole("follower", 10*time.Second)
	if !answers(n1.probe) {
		t.Fatalf("leader n1 does not answer the probe")
	}

	// Crash of the leader.
	before, _ := n1.status()
	s.mark()
	n1.kill()
	bound := leaseTTL + retryPeriod
	slack := time.Second // promote time and the 20 ms sampling, under Wine
	deadline := n1.killedAt.Add(bound + slack + 5*time.Second)
	for time.Now().Before(deadline) {
		if _, ok := s.firstAnswer(n2.probe); ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	at, ok := s.firstAnswer(n2.probe)
	if !ok {
		t.Fatalf("n2 did not answer within %s of SIGKILL of n1", bound+slack+5*time.Second)
	}
	took := at.Sub(n1.killedAt)
	t.Logf("failover after SIGKILL: n2 answered %s after the kill (bound lease-ttl + retry-period = %s, + %s slack)", took, bound, slack)
	if took > bound+slack {
		t.Errorf("failover took %s, above lease-ttl + retry-period (%s) + %s", took, bound, slack)
	}
	if st, _ := n2.status(); st.Role != "leader" || st.Term <= before.Term {
		t.Errorf("n2 after failover: %+v; want leader with a term above n1's %d", st, before.Term)
	}
}
