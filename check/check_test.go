package check

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec string
		name string // want Name()
		kind string // want type: tcp, http, exec
	}{
		{"tcp://127.0.0.1:5432", "tcp://127.0.0.1:5432", "tcp"},
		{"  TCP://db.local:5432/ ", "tcp://db.local:5432", "tcp"},
		{"tcp://[::1]:80", "tcp://[::1]:80", "tcp"},
		{"http://127.0.0.1:8080/healthz", "http://127.0.0.1:8080/healthz", "http"},
		{"https://app.local/healthz", "https://app.local/healthz", "http"},
		{"http://user:s3cret@127.0.0.1/h", "http://127.0.0.1/h", "http"},
		{"http://127.0.0.1/h?token=s3cret&x=1", "http://127.0.0.1/h?token=xxxxx&x=xxxxx", "http"},
		{"http://127.0.0.1/h#expect=ok", "http://127.0.0.1/h", "http"},
		{"http://127.0.0.1/h#expect=100%25 fine, #1", "http://127.0.0.1/h", "http"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		if c.Name() != tt.name {
			t.Errorf("Parse(%q).Name() = %q, want %q", tt.spec, c.Name(), tt.name)
		}
		var kind string
		switch c.(type) {
		case *tcpCheck:
			kind = "tcp"
		case *httpCheck:
			kind = "http"
		case *execCheck:
			kind = "exec"
		}
		if kind != tt.kind {
			t.Errorf("Parse(%q) is a %T, want %s check", tt.spec, c, tt.kind)
		}
	}
}

func TestParseDetails(t *testing.T) {
	c, err := Parse("http://u:p@127.0.0.1:81/h?q=1#expect=100%25 fine, #1")
	if err != nil {
		t.Fatal(err)
	}
	h := c.(*httpCheck)
	if string(h.expect) != "100% fine, #1" {
		t.Errorf("expect = %q", h.expect)
	}
	if h.url != "http://u:p@127.0.0.1:81/h?q=1" {
		t.Errorf("url = %q (userinfo kept for basic auth, fragment dropped)", h.url)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", `invalid --check: empty check (want tcp://, http://, https:// or exec:)`},
		{"   ", `invalid --check: empty check (want tcp://, http://, https:// or exec:)`},
		{"127.0.0.1:80", `invalid --check: "127.0.0.1:80": missing scheme (want tcp://, http://, https:// or exec:)`},
		{"ftp://host/x", `invalid --check: "ftp://host/x": unsupported scheme "ftp" (want tcp://, http://, https:// or exec:)`},
		{"udp://user:pw@host:53", `invalid --check: "udp://host:53": unsupported scheme "udp" (want tcp://, http://, https:// or exec:)`},
		{"http://user:pw@host:x/", `invalid --check: "http://host:x/": invalid port ":x" after host`},
		{"tcp://host", `invalid --check: "tcp://host": missing port (want tcp://host:port)`},
		{"tcp://host:", `invalid --check: "tcp://host:": missing port (want tcp://host:port)`},
		{"tcp://:80", `invalid --check: "tcp://:80": missing host (want tcp://host:port)`},
		{"tcp://host:0", `invalid --check: "tcp://host:0": port "0" out of range 1-65535`},
		{"tcp://host:65536", `invalid --check: "tcp://host:65536": port "65536" out of range 1-65535`},
		{"tcp://u:pw@host:80", `invalid --check: "tcp://host:80": tcp:// takes no user info`},
		{"tcp://host:80/x", `invalid --check: "tcp://host:80/x": tcp:// takes only host:port (no path, query or fragment)`},
		{"tcp://host:80?a=b", `invalid --check: "tcp://host:80?a=xxxxx": tcp:// takes only host:port (no path, query or fragment)`},
		{"http:///path", `invalid --check: "http:///path": missing host`},
		{"https://u:pw@:443/", `invalid --check: "https://:443/": missing host`},
		{"http://host/#status=200", `invalid --check: "http://host/": unknown fragment "status=200" (want #expect=text)`},
		{"http://host/#expect=", `invalid --check: "http://host/": empty #expect= text`},
		{"http://host/#expect=100%", `invalid --check: "http://host/#expect=100%": invalid URL escape "%"`},
		{"exec:", `invalid --check: "exec:": no command (want exec:/path/to/command args)`},
		{"exec:  ", `invalid --check: "exec:": no command (want exec:/path/to/command args)`},
		{"exec:'' x", `invalid --check: "exec:'' x": no command (want exec:/path/to/command args)`},
		{"exec:/bin/sh -c 'exit 0", `invalid --check: "exec:/bin/sh -c 'exit 0": unterminated single quote`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.spec)
		if err == nil {
			t.Errorf("Parse(%q): no error, want %s", tt.spec, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got  %s\n want %s", tt.spec, err, tt.want)
		}
		var ce interface{ ExitCode() int }
		if !errors.As(err, &ce) || ce.ExitCode() != 2 {
			t.Errorf("Parse(%q): error %T is not a configuration error with exit code 2", tt.spec, err)
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("Parse(%q): error leaks userinfo: %s", tt.spec, err)
		}
	}
}

func TestSplitSpecs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" \n ; ", []string{";"}},
		{"tcp://a:1", []string{"tcp://a:1"}},
		{"tcp://a:1;http://b/", []string{"tcp://a:1", "http://b/"}},
		{"tcp://a:1 ; HTTPS://b/ ;\texec:/x", []string{"tcp://a:1", "HTTPS://b/", "exec:/x"}},
		{"tcp://a:1\nhttp://b/\n\n", []string{"tcp://a:1", "http://b/"}},
		{"http://b/x;y=1?q=a;b", []string{"http://b/x;y=1?q=a;b"}},
		{"exec:/bin/sh -c 'a; b; c'", []string{"exec:/bin/sh -c 'a; b; c'"}},
		{"http://b/#expect=a, b; c", []string{"http://b/#expect=a, b; c"}},
		{"exec:/x a,b;tcp://a:1", []string{"exec:/x a,b", "tcp://a:1"}},
		{";tcp://a:1;", []string{"tcp://a:1;"}},
	}
	for _, tt := range tests {
		if got := SplitSpecs(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitSpecs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLoadCAFile(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct{ path, want string }{
		{missing, "invalid --check-tls-ca-file: open " + missing + ": no such file or directory"},
		{junk, "invalid --check-tls-ca-file: " + junk + " contains no PEM certificates"},
	}
	for _, tt := range tests {
		_, err := LoadCAFile("check-tls-ca-file", tt.path)
		if err == nil || err.Error() != tt.want {
			t.Errorf("LoadCAFile(%q) = %v, want %s", tt.path, err, tt.want)
		}
	}
	// A valid file is covered by TestHTTPSCheck.
}
