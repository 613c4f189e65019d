package cmdline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runApp runs the CLI in-process and returns the error and exit code main
// would use.
func runApp(t *testing.T, args ...string) (error, int, string) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"lbhc"}, args...))
	return err, exitCode(err), out.String()
}

// Each file in testdata/invalid holds the arguments on its first line and
// the exact error on its second. Every one must exit 2 before anything is
// started: the admin port stays free and no lease file is written.
func TestInvalidInputExits2(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/invalid cases")
	}
	state := t.TempDir()
	t.Setenv("LBHC_STATE_DIR", state)
	t.Setenv("LBHC_ADMIN_ADDRESS", "127.0.0.1:1") // would fail loudly if anything got that far
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(strings.TrimRight(string(raw), "\n"), "\n", 2)
		t.Run(filepath.Base(f), func(t *testing.T) {
			err, code, _ := runApp(t, strings.Fields(lines[0])...)
			if err == nil || code != 2 {
				t.Fatalf("lbhc %s: err %v, exit %d; want exit 2", lines[0], err, code)
			}
			if err.Error() != lines[1] {
				t.Fatalf("lbhc %s:\n got  %q\n want %q", lines[0], err.Error(), lines[1])
			}
		})
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Fatalf("invalid runs left files in the state dir: %v", entries)
	}
}

func TestEnvironmentConfiguresRun(t *testing.T) {
	t.Setenv("LBHC_LEASE_TTL", "5s")
	t.Setenv("LBHC_RENEW_DEADLINE", "6s")
	err, code, _ := runApp(t, "run")
	if code != 2 || err.Error() != "invalid --renew-deadline: 6s must be shorter than --lease-ttl 5s" {
		t.Fatalf("env-configured run: %v (exit %d)", err, code)
	}
}

func TestVersion(t *testing.T) {
	err, code, out := runApp(t, "version")
	if err != nil || code != 0 || !strings.HasPrefix(out, "lbhc dev (commit unknown, built unknown)") {
		t.Fatalf("version: %q %v", out, err)
	}
}

func TestStatusUnreachableExits1(t *testing.T) {
	err, code, _ := runApp(t, "status", "--admin-address", "127.0.0.1:1")
	if err == nil || code != 1 || !strings.Contains(err.Error(), "agent unreachable at 127.0.0.1:1") {
		t.Fatalf("status against nothing: %v (exit %d)", err, code)
	}
}
