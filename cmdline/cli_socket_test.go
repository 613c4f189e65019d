//go:build unix

package cmdline

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbhc/lbhc/agent"
)

// serveSocket answers POST /standby on <dir>/admin.sock, recording the
// request's path and whether it carried a token.
func serveSocket(t *testing.T, dir string, got chan<- string) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(dir, adminSocketName))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path + " auth=" + r.Header.Get("Authorization")
		_ = json.NewEncoder(w).Encode(agent.CommandResult{OK: true, Message: "standby: demoted"})
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// The CLI's commands use the agent's socket in --state-dir when it exists;
// an explicit --admin-address means TCP.
func TestControlUsesAdminSocket(t *testing.T) {
	dir := t.TempDir()
	got := make(chan string, 1)
	serveSocket(t, dir, got)
	err, code, out := runApp(t, "standby", "--state-dir", dir)
	if err != nil || code != 0 || strings.TrimSpace(out) != "standby: demoted" {
		t.Fatalf("lbhc standby over the socket: %v (exit %d) %q", err, code, out)
	}
	if r := <-got; r != "POST /standby auth=" {
		t.Fatalf("socket saw %q", r)
	}
	err, code, _ = runApp(t, "standby", "--state-dir", dir, "--admin-address", "127.0.0.1:1")
	if err == nil || code != 1 || !strings.Contains(err.Error(), "agent unreachable at 127.0.0.1:1") {
		t.Fatalf("explicit --admin-address did not use TCP: %v (exit %d)", err, code)
	}
	// No socket: TCP at the default address.
	err, _, _ = runApp(t, "status", "--state-dir", t.TempDir(), "--timeout", "1s")
	if err != nil && strings.Contains(err.Error(), adminSocketName) {
		t.Fatalf("status without a socket still used one: %v", err)
	}
}
