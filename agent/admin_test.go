package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

// childEnv makes the test binary act as an admin client (TestMain), so a
// test can run one as another user or with its own descriptors.
const childEnv = "LBHC_AGENT_TEST_CLIENT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(childClient(strings.Fields(spec)))
	}
	os.Exit(m.Run())
}

// childClient: "post URL" or "post-unix SOCKET PATH" prints the HTTP status
// code or "error: ..."; "flood ADDR N" opens N connections at once, holds
// them for a second and prints how many connected.
func childClient(args []string) int {
	switch args[0] {
	case "post":
		resp, err := http.Post(args[1], "", nil)
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	case "post-unix":
		resp, err := unixClient(args[1]).Post("http://lbhc"+args[2], "", nil)
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	case "flood":
		n, _ := strconv.Atoi(args[2])
		var ok atomic.Int64
		var wg sync.WaitGroup
		conns := make(chan net.Conn, n)
		sem := make(chan struct{}, 200)
		for range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c, err := net.DialTimeout("tcp", args[1], 3*time.Second)
				if err == nil {
					ok.Add(1)
					conns <- c
				}
			}()
		}
		wg.Wait()
		time.Sleep(time.Second)
		close(conns)
		for c := range conns {
			c.Close()
		}
		fmt.Println(ok.Load())
	}
	return 0
}

func unixClient(sock string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}

// TestTCPAccessRules: over TCP, state changes always need the token; on a
// non-loopback address everything does, except /metrics when opened.
func TestTCPAccessRules(t *testing.T) {
	cases := []struct {
		loop, openMetrics bool
		token, auth       string
		method, path      string
		want              int
	}{
		{loop: true, method: "GET", path: "/status", want: 200},
		{loop: true, method: "POST", path: "/standby", want: 403},
		{loop: true, token: "t", method: "POST", path: "/standby", want: 401},
		{loop: true, token: "t", auth: "Bearer x", method: "POST", path: "/standby", want: 401},
		{loop: true, token: "t", auth: "Bearer t", method: "POST", path: "/standby", want: 200},
		{token: "t", method: "GET", path: "/status", want: 401},
		{token: "t", method: "GET", path: "/healthz", want: 401},
		{token: "t", method: "GET", path: "/metrics", want: 401},
		{token: "t", openMetrics: true, method: "GET", path: "/metrics", want: 200},
		{token: "t", openMetrics: true, method: "GET", path: "/status", want: 401},
		{token: "t", auth: "Bearer t", method: "GET", path: "/status", want: 200},
		{token: "t", auth: "Bearer t", method: "POST", path: "/switchover", want: 200},
	}
	for _, c := range cases {
		a := &Agent{cfg: Config{AdminToken: c.token, AdminOpenMetrics: c.openMetrics}, adminLoop: c.loop}
		called := false
		h := a.authorizeTCP(func(http.ResponseWriter, *http.Request) { called = true }, c.method == "POST", c.path)
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		h(w, req)
		if w.Code != c.want || called != (c.want == 200) {
			t.Errorf("%+v: got %d (handler called %v)", c, w.Code, called)
		}
	}
}

func TestAdminSocketMode(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, election.NewMemoryStore(), Config{StateDir: dir}, &fakeVIPs{r: &recorder{}}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	sock := filepath.Join(dir, "admin.sock")
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v %v; want a socket of mode 0600", fi, err)
	}
	resp, err := unixClient(sock).Get("http://lbhc/status")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /status over the socket: %v %v", resp, err)
	}
	resp.Body.Close()
	h.stop()
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after stop: %v", err)
	}
}

// A second agent on the same state dir refuses to start instead of taking
// the first one's socket; a stale socket (nobody listening) is replaced.
func TestAdminSocketInUse(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	l, err := listenAdminSocket(sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listenAdminSocket(sock, 0); err == nil || !strings.Contains(err.Error(), "another lbhc serves the admin socket") {
		t.Fatalf("second listener on a live socket: %v", err)
	}
	l.Close() // the file stays (unlink on close is off): a stale socket
	l2, err := listenAdminSocket(sock, 0)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
	if err := os.WriteFile(filepath.Join(dir, "other"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listenAdminSocket(filepath.Join(dir, "other"), 0); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("regular file at the socket path: %v", err)
	}
}
