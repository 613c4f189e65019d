//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbhc/lbhc/agent"
)

// lbhcBin is built once per test binary by TestMain.
var lbhcBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lbhc-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lbhcBin = filepath.Join(dir, "lbhc")
	build := exec.Command("go", "build", "-o", lbhcBin, "github.com/lbhc/lbhc")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build lbhc:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Node is one lbhc process in a host namespace.
type Node struct {
	t    *testing.T
	Host *Host
	args []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartNode runs `lbhc run args...` in h's namespace. The probe message is
// the node's name so samplers know who answered.
func StartNode(t *testing.T, h *Host, args ...string) *Node {
	t.Helper()
	n := &Node{t: t, Host: h, args: args, log: filepath.Join(t.TempDir(), h.Name+".log")}
	n.Start()
	t.Cleanup(func() {
		n.Signal(syscall.SIGCONT)
		n.Signal(syscall.SIGKILL)
		n.Wait(5 * time.Second)
		if t.Failed() {
			b, _ := os.ReadFile(n.log)
			t.Logf("---- log of %s ----\n%s", h.Name, tail(string(b), 60))
		}
	})
	return n
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// Start (re)starts the process with the same arguments.
func (n *Node) Start() {
	n.t.Helper()
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	args := append([]string{"netns", "exec", n.Host.NS, lbhcBin, "run",
		"--node-id", n.Host.Name, "--probe-message", "node=" + n.Host.Name,
		"--state-dir", n.stateDir()}, n.args...)
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", n.Host.Name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
}

// Signal sends sig to the lbhc process (ip netns exec execs it, so the pid
// is lbhc's own).
func (n *Node) Signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

// Wait waits up to d for the process to exit and reports whether it did.
func (n *Node) Wait(d time.Duration) bool {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// ExitCode is the process's exit status after Wait.
func (n *Node) ExitCode() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.ProcessState == nil {
		return -1
	}
	return n.cmd.ProcessState.ExitCode()
}

// stateDir is the node's --state-dir; the CLI finds the admin socket there.
func (n *Node) stateDir() string {
	return filepath.Join(filepath.Dir(n.log), n.Host.Name+"-state")
}

// Status reads the node's /status through `lbhc status --json`.
func (n *Node) Status() (agent.Status, error) {
	out, err := run(n.t, n.Host.NS, lbhcBin, "status", "--json", "--state-dir", n.stateDir())
	var s agent.Status
	if err != nil {
		return s, fmt.Errorf("%v: %s", err, out)
	}
	return s, json.Unmarshal([]byte(out), &s)
}

// Control runs `lbhc switchover|standby|resume` on the node.
func (n *Node) Control(op string) (string, error) {
	return run(n.t, n.Host.NS, lbhcBin, op, "--state-dir", n.stateDir())
}

// Log returns the node's log so far.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.log)
	return string(b)
}
