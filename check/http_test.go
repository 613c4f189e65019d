package check

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newAppServer(t *testing.T, tls bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("status: all good\n")) })
	mux.HandleFunc("/created", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(strings.Repeat("x", maxBody)))
		w.Write([]byte("needle"))
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "monitor" || p != "s3cret" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("authenticated"))
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "s3cret" {
			http.Error(w, "bad token", http.StatusForbidden)
			return
		}
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	// Rejected handshakes are expected in TestHTTPSCheck; keep them quiet.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPCheck(t *testing.T) {
	srv := newAppServer(t, false)
	base := srv.URL // http://127.0.0.1:port
	host := strings.TrimPrefix(base, "http://")
	tests := []struct {
		spec    string
		wantErr string // "" = healthy; else the exact error
	}{
		{base + "/ok", ""},
		{base + "/created", ""},
		{base + "/ok#expect=all good", ""},
		{base + "/ok#expect=all%20good", ""},
		{base + "/ok#expect=broken", `body does not contain "broken" (read 17 bytes)`},
		{base + "/down", "status 503 Service Unavailable (want 2xx)"},
		{base + "/moved", "status 302 Found (want 2xx; redirects are not followed)"},
		{base + "/nope", "status 404 Not Found (want 2xx)"},
		{base + "/big#expect=needle", `body does not contain "needle" (read 65536 bytes)`},
		{base + "/big#expect=xxx", ""},
		{"http://monitor:s3cret@" + host + "/auth#expect=authenticated", ""},
		{"http://monitor:wrong@" + host + "/auth", "status 401 Unauthorized (want 2xx)"},
		{base + "/query?token=s3cret", ""},
		{base + "/query?token=wrong", "status 403 Forbidden (want 2xx)"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.spec, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = c.Run(ctx)
		cancel()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.wantErr {
			t.Errorf("%s: Run() = %q, want %q", tt.spec, got, tt.wantErr)
		}
	}
}

func TestHTTPCheckErrorsHideSecrets(t *testing.T) {
	srv := newAppServer(t, false)
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // connection refused from now on
	c, err := Parse("http://monitor:s3cret@" + host + "/query?token=t0ken")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.Name(), "monitor") || strings.Contains(c.Name(), "s3cret") || strings.Contains(c.Name(), "t0ken") {
		t.Errorf("Name() leaks a secret: %s", c.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = c.Run(ctx)
	if err == nil {
		t.Fatal("closed server: healthy")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "GET: ") || !strings.Contains(msg, "connection refused") {
		t.Errorf("error = %q, want GET: … connection refused", msg)
	}
	for _, secret := range []string{"monitor", "s3cret", "t0ken"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error leaks %q: %s", secret, msg)
		}
	}
}

func TestHTTPCheckTimeout(t *testing.T) {
	srv := newAppServer(t, false)
	c, err := Parse(srv.URL + "/hang")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.Run(ctx)
	if err == nil || err.Error() != "GET: context deadline exceeded" {
		t.Errorf("err = %v, want GET: context deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %v after a 200ms deadline", d)
	}
}

func TestHTTPSCheck(t *testing.T) {
	srv := newAppServer(t, true)
	// The test server's certificate is self-signed for 127.0.0.1.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := LoadCAFile("check-tls-ca-file", caFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opt     Options
		wantErr string // substring; "" = healthy
	}{
		{"system roots reject a self-signed certificate", Options{}, "certificate signed by unknown authority"},
		{"CA file", Options{RootCAs: pool}, ""},
		{"skip verify", Options{InsecureSkipVerify: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseWith(srv.URL+"/ok#expect=all good", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = c.Run(ctx)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Run() = %v, want healthy", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Run() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// Logs and /status never show the userinfo or query values of a check URL.
func TestMonitorLogsHideSecrets(t *testing.T) {
	srv := newAppServer(t, false)
	host := strings.TrimPrefix(srv.URL, "http://")
	c, err := Parse("http://monitor:s3cret@" + host + "/auth?token=t0ken#expect=nothing-like-this")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	lg := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMonitor([]Check{c}, Config{Interval: 20 * time.Millisecond, Timeout: 20 * time.Millisecond, Fall: 1, Rise: 1}, lg, nil)
	startMonitor(t, m)
	deadline := time.Now().Add(2 * time.Second)
	for m.Status()[0].Runs < 2 {
		if time.Now().After(deadline) {
			t.Fatal("fewer than 2 runs within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, _ := json.Marshal(m.Status())
	out := logs.String()
	if !strings.Contains(out, "check unhealthy") || !strings.Contains(out, `body does not contain`) {
		t.Errorf("logs lack the failure:\n%s", out)
	}
	for _, secret := range []string{"monitor", "s3cret", "t0ken"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs leak %q:\n%s", secret, out)
		}
		if strings.Contains(string(st), secret) {
			t.Errorf("status leaks %q: %s", secret, st)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
