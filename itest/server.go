package itest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ServerStartTimeout bounds how long a server may take to accept connections
// after it is started.
const ServerStartTimeout = 30 * time.Second

// serverStopTimeout is how long a server gets to exit after SIGTERM (or
// Process.Kill where there is no SIGTERM) before it is killed.
const serverStopTimeout = 5 * time.Second

// Server is a test's own instance of a server program, listening on
// Host:Port. It is stopped when the test ends; Stop and Start in between
// simulate an outage on the same address. Pause and Resume (SIGSTOP and
// SIGCONT, Linux only) simulate a hung server that keeps its data — the
// in-memory servers (Azurite, dynalite) lose everything when stopped.
type Server struct {
	Name string
	Host string
	Port int

	t       testing.TB
	bin     string
	args    []string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Addr is "host:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is "http://host:port".
func (s *Server) URL() string { return joinURL(s.Host, s.Port) }

// StartServer runs bin with args (which must make it listen on host:port),
// waits until it accepts TCP connections, and stops it when the test ends.
// Its output goes to a file whose tail is logged if the test fails.
func StartServer(t testing.TB, name, bin string, args []string, host string, port int) *Server {
	t.Helper()
	s := &Server{
		Name: name, Host: host, Port: port,
		t: t, bin: bin, args: args,
		logPath: filepath.Join(t.TempDir(), name+".log"),
	}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			s.logTail()
		}
	})
	if err := s.start(); err != nil {
		t.Fatalf("itest: %v", err)
	}
	return s
}

// Start starts a stopped server again with the same arguments and waits
// until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("itest: %v", err)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to
// exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = resumeProcess(cmd.Process) // a paused process cannot handle SIGTERM
	_ = terminate(cmd.Process)
	select {
	case <-exited:
	case <-time.After(serverStopTimeout):
		_ = cmd.Process.Kill()
		<-exited
	}
	s.mu.Lock()
	s.cmd = nil
	s.mu.Unlock()
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *Server) Kill() { s.kill() }

// Pause freezes the server (SIGSTOP): connections are accepted by the kernel
// but nothing answers, like a hung host. Fails the test where unsupported.
func (s *Server) Pause() {
	s.t.Helper()
	if err := s.signal(pauseProcess); err != nil {
		s.t.Fatalf("itest: pause %s: %v", s.Name, err)
	}
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() {
	s.t.Helper()
	if err := s.signal(resumeProcess); err != nil {
		s.t.Fatalf("itest: resume %s: %v", s.Name, err)
	}
}

func (s *Server) signal(f func(*os.Process) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("%s is not running", s.Name)
	}
	return f(s.cmd.Process)
}

func (s *Server) start() error {
	s.mu.Lock()
	if s.cmd != nil {
		select {
		case <-s.exited: // it died on its own: start it again
			s.cmd = nil
		default:
			s.mu.Unlock()
			return fmt.Errorf("%s is already running", s.Name)
		}
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.mu.Unlock()
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	if err := waitTCP(s.Addr(), ServerStartTimeout, exited); err != nil {
		s.kill()
		return fmt.Errorf("%s (%s): %w\n%s", s.Name, s.bin, err, s.tail(20))
	}
	return nil
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// tail returns the last n lines of the server's output.
func (s *Server) tail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	return string(lastLines(b, n))
}

func (s *Server) logTail() {
	s.t.Logf("itest: last lines of %s's output (%s):\n%s", s.Name, s.logPath, s.tail(30))
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// AzuriteArgs are azurite-blob's arguments for an in-memory blob service on
// host:port. --skipApiVersionCheck: the Go SDK speaks a newer API version.
func AzuriteArgs(host string, port int) []string {
	return []string{"--blobHost", host, "--blobPort", strconv.Itoa(port),
		"--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent"}
}

// DynaliteArgs are dynalite's arguments for an in-memory DynamoDB on host:port.
func DynaliteArgs(host string, port int) []string {
	return []string{"--host", host, "--port", strconv.Itoa(port)}
}

// EtcdArgs are etcd's arguments for a single member named name with its data
// in dataDir, serving clients on host:clientPort and peers on host:peerPort.
func EtcdArgs(name, dataDir, host string, clientPort, peerPort int) []string {
	client := joinURL(host, clientPort)
	peer := joinURL(host, peerPort)
	return []string{"--name", name, "--data-dir", dataDir,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", name + "=" + peer,
		"--logger", "zap", "--log-level", "warn"}
}

// startRetries is how often the Start* helpers try a new port when a server
// dies before it listens (another process took the port).
const startRetries = 3

// startOnFreePort starts a server from the program in env on a free port of
// host, with args built for that port; retries with a new port on failure.
func startOnFreePort(t testing.TB, name, env, host string, args func(port int) []string) *Server {
	t.Helper()
	bin := Env(t, env)
	var errs []error
	for range startRetries {
		port := FreePortOn(t, host)
		s := &Server{
			Name: name, Host: host, Port: port,
			t: t, bin: bin, args: args(port),
			logPath: filepath.Join(t.TempDir(), name+".log"),
		}
		if err := s.start(); err != nil {
			errs = append(errs, err)
			continue
		}
		t.Cleanup(func() {
			s.kill()
			if t.Failed() {
				s.logTail()
			}
		})
		return s
	}
	t.Fatalf("itest: could not start %s after %d attempts: %v", name, startRetries, errs)
	return nil
}

// StartAzurite starts the test's own in-memory Azurite blob service on a free
// port of host (LBHC_TEST_AZURITE_CMD). Connect with
// AzuriteConnectionString(s.Host, s.Port).
func StartAzurite(t testing.TB, host string) *Server {
	t.Helper()
	return startOnFreePort(t, "azurite", "LBHC_TEST_AZURITE_CMD", host, func(p int) []string {
		return AzuriteArgs(host, p)
	})
}

// StartDynalite starts the test's own in-memory dynalite on a free port of
// host (LBHC_TEST_DYNALITE_CMD); its endpoint is s.URL().
func StartDynalite(t testing.TB, host string) *Server {
	t.Helper()
	return startOnFreePort(t, "dynalite", "LBHC_TEST_DYNALITE_CMD", host, func(p int) []string {
		return DynaliteArgs(host, p)
	})
}

// StartEtcd starts the test's own single-member etcd on free ports of host
// (LBHC_TEST_ETCD_BIN) with its data in a temp dir that survives Stop/Start;
// its endpoint is s.URL(). etcd's client port answers TCP before etcd has
// elected itself; clients retry, or wait with a first request.
func StartEtcd(t testing.TB, host string) *Server {
	t.Helper()
	return startOnFreePort(t, "etcd", "LBHC_TEST_ETCD_BIN", host, func(p int) []string {
		// A fresh data dir per attempt: a half-initialised one would pin the
		// failed attempt's peer URL.
		return EtcdArgs("lbhc-itest", t.TempDir(), host, p, FreePortOn(t, host))
	})
}
