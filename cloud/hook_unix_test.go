//go:build unix

package cloud

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// hookLog collects log output for assertions and echoes it to the test.
type hookLog struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *hookLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Output().Write(p)
	return l.b.Write(p)
}

func (l *hookLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newHookTest(t *testing.T, cfg HookConfig) (*Hook, *hookLog, *prometheus.Registry) {
	lw := &hookLog{t: t}
	reg := prometheus.NewRegistry()
	h := NewHook(cfg, slog.New(slog.NewTextHandler(lw, nil)), NewMetrics(reg))
	return h, lw, reg
}

var hookEvent = Event{Role: "leader", Term: 9, NodeID: "node-a", Leader: "node-a",
	VIPs:  []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("10.0.0.6/32")},
	Valid: func() bool { return true }}

func TestHookPromoteEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	t.Setenv("LBHC_ROLE", "inherited-value-must-be-overridden")
	t.Setenv("LBHC_AZURE_STORAGE_KEY", "secret-not-for-hooks")
	t.Setenv("HOOK_TEST_INHERITED", "yes")
	h, _, _ := newHookTest(t, HookConfig{OnPromote: `env | grep -E '^(LBHC_|HOOK_TEST_)' | sort > "` + out + `"`})
	if err := h.Promote(context.Background(), hookEvent); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		"HOOK_TEST_INHERITED=yes",
		"LBHC_EVENT=promote",
		"LBHC_LEADER=node-a",
		"LBHC_NODE_ID=node-a",
		"LBHC_ROLE=leader",
		"LBHC_TERM=9",
		"LBHC_VIPS=10.0.0.5/32,10.0.0.6/32",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hook environment:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := h.Status(); st.State != "ok" || st.LastVerified.IsZero() {
		t.Errorf("status = %+v", st)
	}
}

func TestHookDemoteRuns(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demote")
	h, _, _ := newHookTest(t, HookConfig{OnDemote: `echo "$LBHC_EVENT $LBHC_ROLE $LBHC_TERM" > "` + out + `"`})
	if err := h.Promote(context.Background(), hookEvent); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("promote ran the demote hook (stat: %v)", err)
	}
	if err := h.Demote(context.Background(), Event{Role: "follower", Term: 9, NodeID: "node-a"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || string(b) != "demote follower 9\n" {
		t.Errorf("demote hook wrote %q, %v", b, err)
	}
}

func TestHookFailureFailsPromote(t *testing.T) {
	h, lw, reg := newHookTest(t, HookConfig{OnPromote: `echo starting; echo "no backend" >&2; exit 3`})
	err := h.Promote(context.Background(), hookEvent)
	if err == nil || err.Error() != "promote hook failed: exit status 3" {
		t.Fatalf("err = %v", err)
	}
	logs := lw.String()
	for _, s := range []string{`msg="hook failed"`, "term=9", "event=promote", `output="starting\nno backend"`} {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}
	if st := h.Status(); st.State != "failed" || st.LastError != err.Error() {
		t.Errorf("status = %+v", st)
	}
	mfs, _ := reg.Gather()
	failures := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "lbhc_cloud_action_failures_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "hook" {
					failures = m.GetCounter().GetValue()
				}
			}
		}
	}
	if failures != 1 {
		t.Errorf("lbhc_cloud_action_failures_total{action=hook} = %v, want 1", failures)
	}
}

func TestHookMissingCommandFails(t *testing.T) {
	h, _, _ := newHookTest(t, HookConfig{OnPromote: "/nonexistent/lbhc-hook-test"})
	if err := h.Promote(context.Background(), hookEvent); err == nil || err.Error() != "promote hook failed: exit status 127" {
		t.Errorf("err = %v", err)
	}
}

// procGone reports whether pid no longer exists or is a zombie waiting for
// a reaper that is not ours.
func procGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) S ... : the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestHookTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The shell starts a child sleep and waits for it; the timeout must
	// kill both, not just the shell.
	h, lw, _ := newHookTest(t, HookConfig{
		OnPromote: `echo before; sleep 30 & echo $! > "` + pidFile + `"; wait`,
		Timeout:   500 * time.Millisecond,
	})
	start := time.Now()
	err := h.Promote(context.Background(), hookEvent)
	took := time.Since(start)
	if err == nil || err.Error() != "promote hook timed out after 500ms; its processes were killed" {
		t.Fatalf("err = %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("Promote returned after %v", took)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("bad pid %q", b)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // only if the test failed
	deadline := time.Now().Add(3 * time.Second)
	for !procGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child sleep %d still running after the hook timed out", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(lw.String(), `output=before`) {
		t.Errorf("output of the killed hook not logged:\n%s", lw.String())
	}
}

func TestHookCancelledByContext(t *testing.T) {
	h, _, _ := newHookTest(t, HookConfig{OnPromote: "sleep 30", Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := h.Promote(ctx, hookEvent)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "promote hook cancelled; its processes were killed") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Promote returned after %v", d)
	}
}

func TestHookOutputCapturedAndBounded(t *testing.T) {
	h, lw, _ := newHookTest(t, HookConfig{
		OnPromote: `i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done`,
		MaxOutput: 55,
	})
	if err := h.Promote(context.Background(), hookEvent); err != nil {
		t.Fatal(err)
	}
	logs := lw.String()
	// 2000 lines of 11 bytes = 22000 bytes; 55 kept = 5 full lines.
	if !strings.Contains(logs, `output="0123456789\n0123456789\n0123456789\n0123456789\n0123456789"`) ||
		!strings.Contains(logs, "output_dropped_bytes=21945") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestHookBackgroundChildDoesNotBlock(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// A hook that starts a daemon-like child holding stdout and exits 0.
	h, _, _ := newHookTest(t, HookConfig{OnPromote: `sleep 30 & echo $! > "` + pidFile + `"; exit 0`})
	start := time.Now()
	if err := h.Promote(context.Background(), hookEvent); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Promote waited %v for a background child", d)
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
