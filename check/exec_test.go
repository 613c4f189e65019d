//go:build unix

package check

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseExec(t *testing.T) {
	ok, err := filepath.Abs("testdata/ok.sh")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec string
		path string // want resolved path; "" = absolute path ending in /sh
		args []string
	}{
		{"exec:" + ok, ok, nil},
		{"EXEC: " + ok + " 'a b'", ok, []string{"a b"}},
		{"exec:testdata/args.sh 'a b' \"it's\" '$HOME'", "testdata/args.sh", []string{"a b", "it's", "$HOME"}},
		{"exec:sh -c 'exit 0'", "", []string{"-c", "exit 0"}},
	}
	for _, tt := range tests {
		c, err := Parse(tt.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		e, isExec := c.(*execCheck)
		if !isExec {
			t.Errorf("Parse(%q) is a %T", tt.spec, c)
			continue
		}
		if e.Name() != strings.TrimSpace(tt.spec) {
			t.Errorf("Parse(%q).Name() = %q, want the spec", tt.spec, e.Name())
		}
		pathOK := e.path == tt.path
		if tt.path == "" {
			pathOK = filepath.IsAbs(e.path) && filepath.Base(e.path) == "sh"
		}
		if !pathOK || !slices.Equal(e.args, tt.args) {
			t.Errorf("Parse(%q): path, args = %q, %q; want %q, %q", tt.spec, e.path, e.args, tt.path, tt.args)
		}
	}
}

func TestParseExecErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.sh")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ spec, want string }{
		{"exec:/nonexistent/check arg", `invalid --check: "exec:/nonexistent/check arg": command "/nonexistent/check" not found`},
		{"exec:lbhc-no-such-command", `invalid --check: "exec:lbhc-no-such-command": command "lbhc-no-such-command" not found`},
		{"exec:" + dir, `invalid --check: "exec:` + dir + `": command "` + dir + `": is a directory`},
		{"exec:" + plain, `invalid --check: "exec:` + plain + `": command "` + plain + `" is not executable`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.spec)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got  %v\n want %s", tt.spec, err, tt.want)
		}
	}
}

func runSpec(t *testing.T, spec string, timeout time.Duration) (error, time.Duration) {
	t.Helper()
	c, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err = c.Run(ctx)
	return err, time.Since(start)
}

func TestExecCheck(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr string // "" = healthy; else the exact error
	}{
		{"exec:testdata/ok.sh", ""},
		{"exec:testdata/fail.sh", "exit status 3: database down: connection refused"},
		{`exec:testdata/args.sh 'a b' "it's" '$HOME'`, ""},
		{`exec:testdata/args.sh a b`, "exit status 1: unexpected arguments (2): a b"},
		{"exec:sh -c 'exit 0'", ""},
		{"exec:sh -c 'exit 7'", "exit status 7"},
		{"exec:sh -c 'printf \"%0300d\" 0; exit 1'", "exit status 1: " + strings.Repeat("0", maxLine) + "…"},
		{"exec:sh -c 'kill -TERM $$'", "signal: terminated"},
	}
	for _, tt := range tests {
		err, _ := runSpec(t, tt.spec, 5*time.Second)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.wantErr {
			t.Errorf("%s: Run() = %q, want %q", tt.spec, got, tt.wantErr)
		}
	}
}

// A timeout kills the script and the children it started (its process
// group), and Run returns promptly.
func TestExecCheckTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	err, d := runSpec(t, "exec:testdata/hang.sh "+pidFile, 300*time.Millisecond)
	if err == nil || err.Error() != "signal: killed" {
		t.Errorf("err = %v, want signal: killed", err)
	}
	if d > 300*time.Millisecond+waitDelay+time.Second {
		t.Errorf("Run returned %v after start with a 300ms timeout", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the script did not record its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The child was SIGKILLed with its group; wait (bounded) until it is
	// gone or a zombie (PID 1 in a container may reap late).
	deadline := time.Now().Add(3 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL) // do not leave it behind
			t.Fatalf("child %d still running after the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs: it does not exist, or it
// is a zombie waiting to be reaped (Linux /proc state Z or X).
func processGone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// Format: pid (comm) state …; comm may contain spaces and parentheses.
	rest := stat[strings.LastIndexByte(string(stat), ')')+1:]
	f := strings.Fields(string(rest))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// A healthy script that leaves a background child holding its output open
// is healthy, and Run does not wait for the child.
func TestExecCheckBackgroundChild(t *testing.T) {
	err, d := runSpec(t, "exec:testdata/background.sh", 5*time.Second)
	if err != nil {
		t.Errorf("Run() = %v, want healthy", err)
	}
	if d > waitDelay+time.Second {
		t.Errorf("Run took %v: it waited for the background child", d)
	}
}

// An exec check sees the environment without lbhc's LBHC_* configuration
// (secrets among it), the same filter hooks get; other variables pass.
func TestExecCheckEnvironment(t *testing.T) {
	t.Setenv("LBHC_AZURE_STORAGE_KEY", "secret-not-for-checks")
	t.Setenv("LBHC_AZURE_STORAGE_CONNECTION_STRING", "AccountKey=secret")
	t.Setenv("CHECK_TEST_KEEP", "kept")
	out := filepath.Join(t.TempDir(), "env")
	c, err := Parse(`exec:sh -c 'env > "` + out + `"'`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "LBHC_") || strings.Contains(string(b), "secret") {
		t.Fatalf("exec check saw lbhc's configuration:\n%s", b)
	}
	if !strings.Contains(string(b), "CHECK_TEST_KEEP=kept") {
		t.Fatalf("exec check lost the rest of the environment:\n%s", b)
	}
}
