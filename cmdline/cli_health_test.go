package cmdline

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthCommand(t *testing.T) {
	live := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz" && live, r.URL.Path == "/readyz" && !live:
			w.Write([]byte("ok\n"))
		default:
			http.Error(w, "election engine has not finished a step", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if err, code, out := runApp(t, "health", "--admin-address", addr); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("health of a live agent: %v (exit %d) %q", err, code, out)
	}
	if err, code, _ := runApp(t, "health", "--admin-address", addr, "--ready"); code != 1 || !strings.Contains(err.Error(), "/readyz: 503") {
		t.Fatalf("health --ready of an unready agent: %v (exit %d)", err, code)
	}
	live = false
	if err, code, _ := runApp(t, "health", "--admin-address", addr); code != 1 || !strings.Contains(err.Error(), "engine has not finished") {
		t.Fatalf("health of a wedged agent: %v (exit %d)", err, code)
	}
}
