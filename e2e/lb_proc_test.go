//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NSProc is a helper program (HAProxy, keepalived, a lease backend server)
// running inside one of the test's namespaces. It runs in its own process
// group so a crash (Kill) takes its children with it, and is killed when the
// test ends.
type NSProc struct {
	Name string
	NS   string

	t     *testing.T
	args  []string // full argv after "ip netns exec NS"
	ready func() error
	log   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// procStartTimeout bounds how long a helper program may take to become
// ready (node.js servers start slowly on a loaded 2-core machine).
const procStartTimeout = 40 * time.Second

// StartNSProc runs argv in namespace ns and waits until ready returns nil
// (polled every 50 ms, at most procStartTimeout). ready may be nil.
func StartNSProc(t *testing.T, name, ns string, ready func() error, argv ...string) *NSProc {
	t.Helper()
	p := &NSProc{Name: name, NS: ns, t: t, args: argv, ready: ready,
		log: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("---- log of %s ----\n%s", name, tail(string(b), 30))
		}
	})
	p.Start()
	return p
}

// Start (re)starts the program and waits until it is ready.
func (p *NSProc) Start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.NS}, p.args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	if p.ready == nil {
		return
	}
	end := time.Now().Add(procStartTimeout)
	var last error
	for time.Now().Before(end) {
		select {
		case <-done:
			b, _ := os.ReadFile(p.log)
			p.t.Fatalf("%s exited during start-up:\n%s", p.Name, tail(string(b), 20))
		default:
		}
		if last = p.ready(); last == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s not ready within %s: %v", p.Name, procStartTimeout, last)
}

// Signal sends sig to the program's whole process group.
func (p *NSProc) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// wait waits up to d for the program to exit.
func (p *NSProc) wait(d time.Duration) bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
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

// Kill stops the program group with SIGKILL, as a crash would.
func (p *NSProc) Kill() {
	p.Signal(syscall.SIGCONT)
	p.Signal(syscall.SIGKILL)
	p.wait(5 * time.Second)
}

// Stop asks the program to exit (SIGTERM), killing it after 5 s.
func (p *NSProc) Stop() {
	p.Signal(syscall.SIGTERM)
	if !p.wait(5 * time.Second) {
		p.Kill()
	}
}

// dialReady returns a readiness check that dials addr from namespace ns.
func dialReady(dial func(string, time.Duration) (net.Conn, error), addr string) func() error {
	return func() error {
		c, err := dial(addr, 500*time.Millisecond)
		if err != nil {
			return fmt.Errorf("dial %s: %w", addr, err)
		}
		c.Close()
		return nil
	}
}
