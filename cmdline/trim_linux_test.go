//go:build linux

package cmdline

import (
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFileKiB is RssFile from /proc/self/status: resident file-backed pages,
// the executable's among them.
func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// Dropping the executable's pages leaves the process running (code comes
// back on demand) and lowers its file-backed resident memory.
func TestDropExecutablePages(t *testing.T) {
	before := rssFileKiB(t)
	if err := dropExecutablePages(); err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	t.Logf("RssFile %d KiB -> %d KiB", before, after)
	if after >= before {
		t.Fatalf("RssFile %d KiB after dropping the executable's pages, %d KiB before", after, before)
	}
	// Still runs, code and read-only data intact: build and parse the app.
	app := newApp()
	app.Writer = io.Discard
	if err := app.Run([]string{"lbhc", "version"}); err != nil {
		t.Fatal(err)
	}
}
