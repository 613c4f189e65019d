package cmdline

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/peer"
)

// peerKeyFile writes a key file with the given lines and mode.
func peerKeyFile(t *testing.T, perm os.FileMode, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "peer.key")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// runPeerFlags runs both phases of the peer flags, as run does.
func runPeerFlags(t *testing.T, args ...string) (*peer.Config, error) {
	t.Helper()
	var cfg *peer.Config
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "node-id", Value: "node-a"},
		&cli.StringFlag{Name: "lease-name", Value: "lbhc"},
	}, peerFlags()...)
	app := &cli.App{
		Name: "lbhc", Flags: flags, Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			var err error
			if cfg, err = parsePeerFlags(c); err != nil {
				return err
			}
			return resolvePeerKeys(c, cfg)
		},
	}
	err := app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	return cfg, err
}

const testPeerKey = "cGVlci1rZXktZm9yLXRoZS10ZXN0cy0wMTIzNDU2Nzg5YWJj"

func TestPeerFlags(t *testing.T) {
	if cfg, err := runPeerFlags(t); cfg != nil || err != nil {
		t.Fatalf("no --peer: %+v %v, want no peer channel", cfg, err)
	}
	key := peerKeyFile(t, 0o600, "# the group's key", testPeerKey)
	cfg, err := runPeerFlags(t, "--peer", "node-a=10.0.0.1:26002", "--peer", "node-b=10.0.0.2:26002", "--peer-key-file", key)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"node-b": "10.0.0.2:26002"}
	if cfg.Group != "lbhc" || cfg.Self != "node-a" || cfg.Listen != ":26002" || !maps.Equal(cfg.Peers, want) ||
		len(cfg.Keys) != 1 || string(cfg.Keys[0]) != testPeerKey {
		t.Fatalf("config %+v", cfg)
	}
	// The same from the environment, the list comma-separated.
	t.Setenv("LBHC_PEER", "node-a=10.0.0.1:26002,node-b=10.0.0.2:26002, node-c=10.0.0.3:7000")
	t.Setenv("LBHC_PEER_LISTEN", "10.0.0.1:7000")
	t.Setenv("LBHC_PEER_KEY_FILE", key)
	cfg, err = runPeerFlags(t)
	want["node-c"] = "10.0.0.3:7000"
	if err != nil || cfg.Listen != "10.0.0.1:7000" || !maps.Equal(cfg.Peers, want) {
		t.Fatalf("from env: %+v %v", cfg, err)
	}
}

// A key file that cannot be used exits 2 naming --peer-key-file, in the
// resolve phase, before anything is started.
func TestPeerKeyFileErrors(t *testing.T) {
	t.Setenv("LBHC_STATE_DIR", t.TempDir())
	t.Setenv("LBHC_ADMIN_ADDRESS", "127.0.0.1:1") // would fail loudly if anything got that far
	missing := filepath.Join(t.TempDir(), "missing.key")
	short := peerKeyFile(t, 0o600, "too-short")
	open := peerKeyFile(t, 0o644, testPeerKey)
	three := peerKeyFile(t, 0o600, testPeerKey, testPeerKey+"2", testPeerKey+"3")
	for _, tc := range []struct{ file, want string }{
		{missing, "invalid --peer-key-file: stat " + missing + ": no such file or directory"},
		{short, "invalid --peer-key-file: " + short + ": line 1: the key is 9 bytes, want at least 32 (e.g. openssl rand -base64 48)"},
		{open, "invalid --peer-key-file: " + open + " is accessible by group or others (mode 0644): chmod 600 it"},
		{three, "invalid --peer-key-file: " + three + ": 3 keys, want 1 or 2 (the first signs, both verify: two only during a rotation)"},
	} {
		if runtime.GOOS == "windows" && (tc.file == open || tc.file == missing) {
			continue // ACLs instead of mode bits; the OS words "not found" its own way
		}
		err, code, _ := runApp(t, "run", "--node-id", "a", "--peer", "b=127.0.0.1:26002", "--peer-key-file", tc.file)
		if code != 2 || err == nil || err.Error() != tc.want {
			t.Errorf("%s: err %v (exit %d), want exit 2 with %q", filepath.Base(tc.file), err, code, tc.want)
		}
	}
}
