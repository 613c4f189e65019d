package cmdline

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/check"
	"github.com/urfave/cli/v2"
)

var checkEnvVars = []string{"LBHC_CHECK", "LBHC_CHECK_INTERVAL", "LBHC_CHECK_TIMEOUT", "LBHC_CHECK_FALL",
	"LBHC_CHECK_RISE", "LBHC_CHECK_TLS_CA_FILE", "LBHC_CHECK_TLS_SKIP_VERIFY"}

// parseCheckFlags runs an app with checkFlags and returns checkConfig's result.
func parseCheckFlags(t *testing.T, args []string, env map[string]string) ([]check.Check, check.Config, error) {
	t.Helper()
	for _, k := range checkEnvVars {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var (
		checks []check.Check
		cfg    check.Config
		err    error
		ran    bool
	)
	app := &cli.App{
		Name:   "lbhc",
		Flags:  checkFlags(),
		Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{},
		Action: func(c *cli.Context) error {
			ran = true
			checks, cfg, err = checkConfig(c)
			return nil
		},
	}
	if runErr := app.Run(append([]string{"lbhc"}, args...)); runErr != nil {
		t.Fatalf("app.Run(%q): %v", args, runErr)
	}
	if !ran {
		t.Fatalf("app.Run(%q): action did not run", args)
	}
	return checks, cfg, err
}

func names(checks []check.Check) []string {
	var out []string
	for _, c := range checks {
		out = append(out, c.Name())
	}
	return out
}

func TestCheckFlags(t *testing.T) {
	def := check.DefaultConfig
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // check names
		cfg  check.Config
	}{
		{name: "defaults", cfg: def},
		{
			name: "repeated --check",
			args: []string{"--check", "tcp://127.0.0.1:5432", "--check", "http://monitor:pw@127.0.0.1:8080/healthz#expect=ok"},
			want: []string{"tcp://127.0.0.1:5432", "http://127.0.0.1:8080/healthz"},
			cfg:  def,
		},
		{
			name: "several in one value, commas kept",
			args: []string{"--check", "tcp://127.0.0.1:1; http://127.0.0.1/h#expect=a, b; c"},
			want: []string{"tcp://127.0.0.1:1", "http://127.0.0.1/h"},
			cfg:  def,
		},
		{
			name: "environment",
			env: map[string]string{"LBHC_CHECK": "tcp://127.0.0.1:1\nhttps://127.0.0.1/h", "LBHC_CHECK_INTERVAL": "5s",
				"LBHC_CHECK_TIMEOUT": "4s", "LBHC_CHECK_FALL": "5", "LBHC_CHECK_RISE": "1"},
			want: []string{"tcp://127.0.0.1:1", "https://127.0.0.1/h"},
			cfg:  check.Config{Interval: 5 * time.Second, Timeout: 4 * time.Second, Fall: 5, Rise: 1},
		},
		{
			name: "command line replaces environment",
			args: []string{"--check", "tcp://127.0.0.1:2", "--check-fall", "2"},
			env:  map[string]string{"LBHC_CHECK": "tcp://127.0.0.1:1", "LBHC_CHECK_FALL": "7"},
			want: []string{"tcp://127.0.0.1:2"},
			cfg:  check.Config{Interval: def.Interval, Timeout: def.Timeout, Fall: 2, Rise: def.Rise},
		},
		{
			name: "timeout equal to interval",
			args: []string{"--check-interval", "1s", "--check-timeout", "1s"},
			cfg:  check.Config{Interval: time.Second, Timeout: time.Second, Fall: def.Fall, Rise: def.Rise},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks, cfg, err := parseCheckFlags(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(checks); !slices.Equal(got, tt.want) {
				t.Errorf("checks = %q, want %q", got, tt.want)
			}
			if cfg != tt.cfg {
				t.Errorf("config = %+v, want %+v", cfg, tt.cfg)
			}
		})
	}
}

func TestCheckFlagsErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"zero interval", []string{"--check-interval", "0s"}, nil, "invalid --check-interval: must be greater than 0 (got 0s)"},
		{"negative timeout", []string{"--check-timeout", "-1s"}, nil, "invalid --check-timeout: must be greater than 0 (got -1s)"},
		{"timeout above interval", []string{"--check-timeout", "3s"}, nil, "invalid --check-timeout: 3s is longer than --check-interval 2s"},
		{"timeout above interval (env)", nil, map[string]string{"LBHC_CHECK_INTERVAL": "500ms"}, "invalid --check-timeout: 1s is longer than --check-interval 500ms"},
		{"zero fall", []string{"--check-fall", "0"}, nil, "invalid --check-fall: must be at least 1 (got 0)"},
		{"zero rise", []string{"--check-rise", "0"}, nil, "invalid --check-rise: must be at least 1 (got 0)"},
		{"empty check", []string{"--check", " "}, nil, `invalid --check: empty check (want tcp://, http://, https:// or exec:)`},
		{"bad scheme", []string{"--check", "tcp://127.0.0.1:1", "--check", "ftp://u:pw@h/"}, nil,
			`invalid --check: "ftp://h/": unsupported scheme "ftp" (want tcp://, http://, https:// or exec:)`},
		{"bad check in env", nil, map[string]string{"LBHC_CHECK": "tcp://127.0.0.1:1;tcp://h"},
			`invalid --check: "tcp://h": missing port (want tcp://host:port)`},
		{"ca file and skip verify", []string{"--check-tls-ca-file", junk, "--check-tls-skip-verify"}, nil,
			"invalid --check-tls-skip-verify: cannot be combined with --check-tls-ca-file"},
		{"missing ca file", []string{"--check-tls-ca-file", missing}, nil,
			"invalid --check-tls-ca-file: open " + missing + ": no such file or directory"},
		{"ca file without certificates", nil, map[string]string{"LBHC_CHECK_TLS_CA_FILE": junk},
			"invalid --check-tls-ca-file: " + junk + " contains no PEM certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseCheckFlags(t, tt.args, tt.env)
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got  %s\n want %s", err, tt.want)
			}
			if code := exitCode(err); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
		})
	}
}

// The CA file flag reaches the https:// checks: the check trusts the test
// server's self-signed certificate only through it.
func TestCheckFlagsCAFile(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ready")) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := srv.URL + "/#expect=ready"
	for _, tc := range []struct {
		name    string
		args    []string
		healthy bool
	}{
		{"system roots", []string{"--check", spec}, false},
		{"ca file", []string{"--check", spec, "--check-tls-ca-file", ca}, true},
		{"skip verify", []string{"--check", spec, "--check-tls-skip-verify"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks, _, err := parseCheckFlags(t, tc.args, nil)
			if err != nil || len(checks) != 1 {
				t.Fatalf("checks %v, err %v", names(checks), err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			runErr := checks[0].Run(ctx)
			if (runErr == nil) != tc.healthy {
				t.Errorf("Run() = %v, want healthy=%v", runErr, tc.healthy)
			}
		})
	}
}

func TestCheckFlagsHelp(t *testing.T) {
	var out bytes.Buffer
	app := &cli.App{Name: "lbhc", Flags: checkFlags(), Writer: &out, Action: func(*cli.Context) error { return nil }}
	if err := app.Run([]string{"lbhc", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--check value", "$LBHC_CHECK", "--check-interval value", "(default: 2s)", "$LBHC_CHECK_TLS_SKIP_VERIFY"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
