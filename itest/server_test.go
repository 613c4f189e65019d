package itest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary double as the server program of the Server
// tests: "itest-echo ADDR" serves a line echo on ADDR, "itest-exit" exits 3
// at once (a server that cannot start).
func TestMain(m *testing.M) {
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		case "itest-echo":
			echoServer(os.Args[2])
			return
		case "itest-exit":
			os.Stderr.WriteString("bind: address already in use\n")
			os.Exit(3)
		}
	}
	os.Exit(m.Run())
}

func echoServer(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// echo sends a line to the server and returns the reply, waiting at most d.
func echo(c net.Conn, line string, d time.Duration) (string, error) {
	if err := c.SetDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func dialEcho(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServerLifecycle(t *testing.T) {
	port := FreePort(t)
	s := StartServer(t, "echo", os.Args[0], []string{"itest-echo", "127.0.0.1:" + strconv.Itoa(port)}, "127.0.0.1", port)
	if got, err := echo(dialEcho(t, s), "one", 5*time.Second); got != "one\n" || err != nil {
		t.Fatalf("echo after start = %q, %v", got, err)
	}

	s.Stop()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", s.Addr())
	}
	s.Start() // same port again
	if got, err := echo(dialEcho(t, s), "three", 5*time.Second); got != "three\n" || err != nil {
		t.Fatalf("echo after restart = %q, %v", got, err)
	}

	s.Kill()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Kill", s.Addr())
	}
	s.Start() // after a crash
	if got, err := echo(dialEcho(t, s), "four", 5*time.Second); got != "four\n" || err != nil {
		t.Fatalf("echo after restart from a kill = %q, %v", got, err)
	}

	// The process dies behind the Server's back; Start brings it back.
	s.mu.Lock()
	proc, exited := s.cmd.Process, s.exited
	s.mu.Unlock()
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	s.Start()
	if got, err := echo(dialEcho(t, s), "five", 5*time.Second); got != "five\n" || err != nil {
		t.Fatalf("echo after restart from a crash = %q, %v", got, err)
	}
}

func TestStartServerExits(t *testing.T) {
	port := FreePort(t)
	r := &recorder{TB: t}
	start := time.Now()
	StartServer(r, "doomed", os.Args[0], []string{"itest-exit"}, "127.0.0.1", port)
	if !strings.Contains(r.fatal, "server exited before it accepted connections") ||
		!strings.Contains(r.fatal, "bind: address already in use") {
		t.Errorf("fatal = %q, want the exit reported with the server's output", r.fatal)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("StartServer took %v to notice the exit", d)
	}
}

// TestStartServices starts the test's own Azurite, dynalite and etcd from the
// programs scripts/test.sh exports, checks they answer HTTP, and restarts
// etcd on the same port (an outage as a test would stage it).
func TestStartServices(t *testing.T) {
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("azurite", func(t *testing.T) {
		t.Parallel()
		s := StartAzurite(t, "127.0.0.1")
		// An anonymous List Containers is refused — by Azurite, which is up.
		if code, _ := get(t, s.URL()+"/devstoreaccount1?comp=list"); code != http.StatusForbidden {
			t.Errorf("anonymous list: status %d, want 403", code)
		}
	})
	t.Run("dynalite", func(t *testing.T) {
		t.Parallel()
		s := StartDynalite(t, "127.0.0.1")
		// dynalite answers GET / with its health line.
		if code, body := get(t, s.URL()); code != http.StatusOK || !strings.HasPrefix(body, "healthy: dynamodb.") {
			t.Errorf("GET /: %d %q, want 200 healthy: dynamodb...", code, body)
		}
	})
	t.Run("etcd", func(t *testing.T) {
		t.Parallel()
		s := StartEtcd(t, "127.0.0.1")
		waitHealthy := func() {
			deadline := time.Now().Add(ServerStartTimeout)
			for {
				resp, err := client.Get(s.URL() + "/health")
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if strings.Contains(string(b), `"health":"true"`) {
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("etcd at %s not healthy within %v (last: %v)", s.URL(), ServerStartTimeout, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		waitHealthy()
		s.Stop()
		s.Start()
		waitHealthy()
	})
}
