package cmdline

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/itest"
)

// runEtcdFlags parses args with etcdFlags and calls etcdBackend.
func runEtcdFlags(t *testing.T, ttl time.Duration, args ...string) (election.Backend, error) {
	t.Helper()
	var b election.Backend
	app := &cli.App{
		Name: "lbhc", Flags: etcdFlags(), Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			if err := etcdCheck(c, "grp", ttl); err != nil {
				return err
			}
			var err error
			b, err = etcdBackend(c.Context, c, "node-1", "grp", ttl)
			return err
		},
	}
	err := app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	return b, err
}

func TestEtcdFlagErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	notPEM := filepath.Join(dir, "ca.txt")
	for f, s := range map[string]string{empty: "\n", notPEM: "not a certificate"} {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.pem")
	ep := "--etcd-endpoints=http://127.0.0.1:2379"
	tls := "--etcd-endpoints=https://127.0.0.1:2379"
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		args []string
		want string
	}{
		{"fractional ttl", 1500 * time.Millisecond, []string{ep}, "invalid --lease-ttl: etcd leases last whole seconds (>= 1s), got 1.5s"},
		{"sub-second ttl", 500 * time.Millisecond, []string{ep}, "invalid --lease-ttl: etcd leases last whole seconds (>= 1s), got 500ms"},
		{"relative prefix", 15 * time.Second, []string{ep, "--etcd-prefix=lbhc"}, `invalid --etcd-prefix: "lbhc" must start with /`},
		{"no endpoints", 15 * time.Second, nil, "invalid --etcd-endpoints: must list at least one URL, e.g. https://10.0.0.5:2379,https://10.0.0.6:2379"},
		{"bare host:port", 15 * time.Second, []string{"--etcd-endpoints=10.0.0.5:2379"},
			`invalid --etcd-endpoints: "10.0.0.5:2379" is not an endpoint URL like http://10.0.0.5:2379 or https://etcd1:2379`},
		{"unix scheme", 15 * time.Second, []string{"--etcd-endpoints=http://a:1, unix:///run/etcd.sock"},
			`invalid --etcd-endpoints: "unix:///run/etcd.sock" is not an endpoint URL like http://10.0.0.5:2379 or https://etcd1:2379`},
		{"cert without key", 15 * time.Second, []string{tls, "--etcd-cert-file=" + missing}, "invalid --etcd-key-file: must be set when --etcd-cert-file is"},
		{"key without cert", 15 * time.Second, []string{tls, "--etcd-key-file=" + missing}, "invalid --etcd-cert-file: must be set when --etcd-key-file is"},
		{"ca with http", 15 * time.Second, []string{ep, "--etcd-ca-file=" + notPEM}, "invalid --etcd-ca-file: is set but no --etcd-endpoints URL uses https://"},
		{"ca missing", 15 * time.Second, []string{tls, "--etcd-ca-file=" + missing}, "invalid --etcd-ca-file: open " + missing + ": no such file or directory"},
		{"ca not pem", 15 * time.Second, []string{tls, "--etcd-ca-file=" + notPEM}, "invalid --etcd-ca-file: no PEM certificate found in " + notPEM},
		{"user without password", 15 * time.Second, []string{ep, "--etcd-username=lbhc"}, "invalid --etcd-password-file: must be set when --etcd-username is"},
		{"password without user", 15 * time.Second, []string{ep, "--etcd-password-file=" + empty}, "invalid --etcd-username: must be set when --etcd-password-file is"},
		{"empty password", 15 * time.Second, []string{ep, "--etcd-username=lbhc", "--etcd-password-file=" + empty}, "invalid --etcd-password-file: " + empty + " is empty"},
		{"missing password file", 15 * time.Second, []string{ep, "--etcd-username=lbhc", "--etcd-password-file=" + missing},
			"invalid --etcd-password-file: open " + missing + ": no such file or directory"},
		{"zero dial timeout", 15 * time.Second, []string{ep, "--etcd-dial-timeout=0s"}, "invalid --etcd-dial-timeout: must be positive, got 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := runEtcdFlags(t, tc.ttl, tc.args...)
			if b != nil {
				b.Close()
				t.Fatal("got a backend for invalid flags")
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
			if exitCode(err) != 2 {
				t.Fatalf("exit code %d, want 2", exitCode(err))
			}
		})
	}
}

// TestEtcdFlagsFromEnv: every flag has its LBHC_ variable.
func TestEtcdFlagsFromEnv(t *testing.T) {
	for _, f := range etcdFlags() {
		name := f.Names()[0]
		if ev := f.(interface{ GetEnvVars() []string }).GetEnvVars(); len(ev) != 1 || ev[0] != envs(name)[0] {
			t.Errorf("--%s env vars %v, want %v", name, ev, envs(name))
		}
	}
	t.Setenv("LBHC_ETCD_ENDPOINTS", "http://127.0.0.1:2379")
	t.Setenv("LBHC_ETCD_PREFIX", "relative")
	if _, err := runEtcdFlags(t, 15*time.Second); err == nil || err.Error() != `invalid --etcd-prefix: "relative" must start with /` {
		t.Fatalf("err = %v", err)
	}
}

func TestEtcdFlagsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = runEtcdFlags(t, 15*time.Second, "--etcd-endpoints="+ep, "--etcd-dial-timeout=1s")
	want := fmt.Sprintf("etcd: no endpoint of --etcd-endpoints (%s) answered: ", ep)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v\nwant prefix %s", err, want)
	}
	if exitCode(err) != 1 {
		t.Fatalf("exit code %d, want 1 (a runtime failure)", exitCode(err))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s with --etcd-dial-timeout=1s", d)
	}
}

func TestEtcdFlagsBackend(t *testing.T) {
	eps := itest.Env(t, "LBHC_TEST_ETCD_ENDPOINTS")
	prefix := fmt.Sprintf("/lbhc-flagtest-%d", time.Now().UnixNano())
	b, err := runEtcdFlags(t, 3*time.Second, "--etcd-endpoints="+eps, "--etcd-prefix="+prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := acquireFresh(ctx, b)
	if err != nil || !st.Held || st.Leader != "node-1" {
		t.Fatalf("acquire: %+v, %v", st, err)
	}
	if _, ok := b.(election.Waker); !ok {
		t.Fatal("etcd backend does not implement election.Waker")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// acquireFresh acquires a lease nobody has held yet. A backend that has
// seen no record waits a lease TTL after its start before it creates one
// (a record deleted just before its first read may have a live holder), so
// this retries when the backend says when.
func acquireFresh(ctx context.Context, b election.Backend) (election.State, error) {
	for {
		st, err := b.TryAcquire(ctx, false)
		if err != nil || st.Held || st.RetryAfter <= 0 || st.Leader != "" {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(st.RetryAfter):
		}
	}
}
