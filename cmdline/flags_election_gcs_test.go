package cmdline

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/itest"
)

// runGCSFlags parses args with the Cloud Storage flags, validates them as
// phase 1 does, and calls gcsBackend only when they are valid; backend
// reports whether it was reached.
func runGCSFlags(t *testing.T, id string, args ...string) (b election.Backend, reached bool, err error) {
	t.Helper()
	app := &cli.App{
		Name: "lbhc", Flags: gcsFlags(), Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			if err := gcsCheck(c, "grp", 2*time.Second); err != nil {
				return err
			}
			reached = true
			var err error
			b, err = gcsBackend(c.Context, c, id, "grp", 2*time.Second)
			return err
		},
	}
	err = app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	return b, reached, err
}

func TestGCSFlagErrors(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	long := strings.Repeat("p", 1022)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no bucket", nil, "invalid --gcs-bucket: required with --election gcs"},
		{"short", []string{"--gcs-bucket=ab"}, `invalid --gcs-bucket: "ab" is not a Cloud Storage bucket name: 3-63 characters (up to 222 with dots)`},
		{"upper case", []string{"--gcs-bucket=My-Bucket"}, `invalid --gcs-bucket: "My-Bucket" is not a Cloud Storage bucket name: must start and end with a lowercase letter or a digit`},
		{"slash", []string{"--gcs-bucket=a/b/c"}, `invalid --gcs-bucket: "a/b/c" is not a Cloud Storage bucket name: only lowercase letters, digits, '-', '_' and '.'`},
		{"dash end", []string{"--gcs-bucket=abc-"}, `invalid --gcs-bucket: "abc-" is not a Cloud Storage bucket name: must start and end with a lowercase letter or a digit`},
		{"goog", []string{"--gcs-bucket=goog-lease"}, `invalid --gcs-bucket: "goog-lease" is not a Cloud Storage bucket name: must not start with "goog" or contain "google"`},
		{"ip", []string{"--gcs-bucket=192.168.5.4"}, `invalid --gcs-bucket: "192.168.5.4" is not a Cloud Storage bucket name: must not be an IP address`},
		{"empty part", []string{"--gcs-bucket=a..b"}, `invalid --gcs-bucket: "a..b" is not a Cloud Storage bucket name: each dot-separated part is 1-63 characters`},
		{"64 without dots", []string{"--gcs-bucket=" + strings.Repeat("a", 64)}, "3-63 characters (up to 222 with dots)"},
		{"prefix newline", []string{"--gcs-bucket=leases", "--gcs-object-prefix=a\nb/"},
			`invalid --gcs-object-prefix: "a\nb/" + lease name "grp" is not a usable object name: control characters (carriage return, line feed, ...) are not allowed`},
		{"prefix too long", []string{"--gcs-bucket=leases", "--gcs-object-prefix=" + long}, "is not a usable object name: longer than 1024 bytes"},
		{"prefix acme", []string{"--gcs-bucket=leases", "--gcs-object-prefix=.well-known/acme-challenge/"}, "names under .well-known/acme-challenge/ are reserved"},
		{"prefix utf8", []string{"--gcs-bucket=leases", "--gcs-object-prefix=\xff"}, "not valid UTF-8"},
		{"endpoint scheme", []string{"--gcs-bucket=leases", "--gcs-endpoint=ftp://x"}, `invalid --gcs-endpoint: "ftp://x" is not an http(s) base URL`},
		{"endpoint query", []string{"--gcs-bucket=leases", "--gcs-endpoint=https://x/?a=b"}, `invalid --gcs-endpoint: "https://x/?a=b" is not an http(s) base URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, reached, err := runGCSFlags(t, "node-1", tc.args...)
			if b != nil || reached {
				t.Fatal("invalid flags reached the backend")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 || strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("err = %q (exit %d)\nwant %q (exit 2, one line)", err, exitCode(err), tc.want)
			}
		})
	}
	t.Run("bad STORAGE_EMULATOR_HOST", func(t *testing.T) {
		t.Setenv("STORAGE_EMULATOR_HOST", "ftp://x")
		_, reached, err := runGCSFlags(t, "node-1", "--gcs-bucket=leases")
		if reached || err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `invalid --gcs-endpoint: unset, and STORAGE_EMULATOR_HOST="ftp://x"`) {
			t.Fatalf("err = %v (exit %d)", err, exitCode(err))
		}
	})
}

func TestGCSFlagsFromEnv(t *testing.T) {
	for _, f := range gcsFlags() {
		name := f.Names()[0]
		if ev := f.(interface{ GetEnvVars() []string }).GetEnvVars(); len(ev) != 1 || ev[0] != envs(name)[0] {
			t.Errorf("--%s env vars %v, want %v", name, ev, envs(name))
		}
	}
	t.Setenv("LBHC_GCS_BUCKET", "Bad")
	_, _, err := runGCSFlags(t, "node-1")
	if err == nil || !strings.HasPrefix(err.Error(), `invalid --gcs-bucket: "Bad" is not`) {
		t.Fatalf("err = %v", err)
	}
}

// TestGCSFlagsEmulator: valid flags against the emulator (from
// STORAGE_EMULATOR_HOST, the standard variable, or --gcs-endpoint) build a
// backend that leads, without credentials; a second node follows it.
func TestGCSFlagsEmulator(t *testing.T) {
	ep := itest.Env(t, "LBHC_TEST_GCS_ENDPOINT")
	bucket := fmt.Sprintf("lbhc-flags-%d", time.Now().UnixNano()%1e9)
	req, _ := http.NewRequest(http.MethodPost, ep+"/storage/v1/b", strings.NewReader(`{"name":"`+bucket+`"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// No credentials anywhere: with an http endpoint none are looked for.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/lbhc-test.json")
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(ep, "http://"))
	b, _, err := runGCSFlags(t, "node-1", "--gcs-bucket="+bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := acquireFresh(ctx, b)
	if err != nil || !st.Held || st.Term != 1 {
		t.Fatalf("acquire: %+v, %v", st, err)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	b2, _, err := runGCSFlags(t, "node-2", "--gcs-bucket="+bucket, "--gcs-endpoint="+ep)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	st, err = b2.TryAcquire(ctx, false)
	if err != nil || st.Held || st.Leader != "node-1" || st.Term != 1 {
		t.Fatalf("second candidate: %+v, %v", st, err)
	}
	// A bucket that does not exist fails at start-up, naming it.
	_, _, err = runGCSFlags(t, "node-3", "--gcs-bucket=lbhc-missing-bucket", "--gcs-endpoint="+ep)
	if err == nil || !strings.Contains(err.Error(), `bucket "lbhc-missing-bucket" not found`) || exitCode(err) != 1 {
		t.Fatalf("missing bucket: %v (exit %d)", err, exitCode(err))
	}
}

// TestGCSFlagsCredentials: with the default (https) endpoint, credentials
// are resolved at start-up: an unreadable GOOGLE_APPLICATION_CREDENTIALS
// fails before any request.
func TestGCSFlagsCredentials(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/lbhc-test.json")
	_, reached, err := runGCSFlags(t, "node-1", "--gcs-bucket=leases", "--gcs-endpoint=https://127.0.0.1:1")
	if !reached || err == nil || !strings.Contains(err.Error(), "gcp credentials file: open /nonexistent/lbhc-test.json") {
		t.Fatalf("err = %v", err)
	}
}
