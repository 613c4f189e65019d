package peer

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// install copies testdata/keys/name into a temporary directory with mode
// perm (git does not keep modes) and returns its path.
func install(t *testing.T, name string, perm os.FileMode) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadKeysValid(t *testing.T) {
	keys, err := LoadKeys(install(t, "one.key", 0o600))
	if err != nil || len(keys) != 1 || string(keys[0]) != "T0p6c3VwZXJzZWNyZXQtb25lLWtleS1mb3ItdGhlLWdyb3Vw" {
		t.Fatalf("one.key: %q %v", keys, err)
	}
	keys, err = LoadKeys(install(t, "two.key", 0o400))
	if err != nil || len(keys) != 2 || !strings.HasPrefix(string(keys[0]), "N2V3") || !strings.HasPrefix(string(keys[1]), "b2xk") {
		t.Fatalf("two.key: %q %v (want the new key first, blanks trimmed)", keys, err)
	}
}

// TestLoadKeysInvalid matches every refused key file against the exact
// message (PATH stands for the file's path).
func TestLoadKeysInvalid(t *testing.T) {
	for _, tc := range []struct {
		file string
		perm os.FileMode
		err  string
	}{
		{"short.key", 0o600, "invalid --peer-key-file: PATH: line 2: the key is 9 bytes, want at least 32 (e.g. openssl rand -base64 48)"},
		{"three.key", 0o600, "invalid --peer-key-file: PATH: 3 keys, want 1 or 2 (the first signs, both verify: two only during a rotation)"},
		{"comments-only.key", 0o600, "invalid --peer-key-file: PATH: no key (one key per line; blank lines and # comments are ignored)"},
		{"empty.key", 0o600, "invalid --peer-key-file: PATH: no key (one key per line; blank lines and # comments are ignored)"},
		{"one.key", 0o640, "invalid --peer-key-file: PATH is accessible by group or others (mode 0640): chmod 600 it"},
		{"one.key", 0o604, "invalid --peer-key-file: PATH is accessible by group or others (mode 0604): chmod 600 it"},
		{"one.key", 0o620, "invalid --peer-key-file: PATH is accessible by group or others (mode 0620): chmod 600 it"},
	} {
		if runtime.GOOS == "windows" && tc.perm != 0o600 {
			continue // ACLs, not mode bits
		}
		p := install(t, tc.file, tc.perm)
		_, err := LoadKeys(p)
		if want := strings.ReplaceAll(tc.err, "PATH", p); err == nil || err.Error() != want {
			t.Errorf("%s %04o:\n got %v\nwant %s", tc.file, tc.perm, err, want)
		}
		raw, _ := os.ReadFile(p)
		for _, line := range strings.Split(string(raw), "\n") {
			if line = strings.TrimSpace(line); line != "" && line[0] != '#' && err != nil && strings.Contains(err.Error(), line) {
				t.Errorf("%s: the error shows key bytes", tc.file)
			}
		}
	}
}

func TestLoadKeysNotAFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.key")
	for path, want := range map[string]string{
		"":      "invalid --peer-key-file: must not be empty",
		missing: "invalid --peer-key-file: stat " + missing + ": no such file or directory",
		dir:     "invalid --peer-key-file: " + dir + " is not a regular file",
	} {
		if runtime.GOOS == "windows" && path == missing {
			continue // the OS words it differently
		}
		if _, err := LoadKeys(path); err == nil || err.Error() != want {
			t.Errorf("LoadKeys(%q):\n got %v\nwant %s", path, err, want)
		}
	}
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#\n"), maxKeyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(big); err == nil || err.Error() != "invalid --peer-key-file: "+big+" is larger than 65536 bytes" {
		t.Errorf("big file: %v", err)
	}
}

func TestLoadKeysExitCode(t *testing.T) {
	_, err := LoadKeys(install(t, "short.key", 0o600))
	if ec, ok := err.(interface{ ExitCode() int }); !ok || ec.ExitCode() != 2 {
		t.Fatalf("%v: not a configuration error (exit 2)", err)
	}
}

// A FIFO in place of the key file is refused at once instead of blocking
// the start until something writes to it.
func TestLoadKeysFIFO(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs on Windows")
	}
	p := filepath.Join(t.TempDir(), "fifo")
	if err := mkfifo(p); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := LoadKeys(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || err.Error() != "invalid --peer-key-file: "+p+" is not a regular file" {
			t.Fatalf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LoadKeys blocked on a FIFO")
	}
}
