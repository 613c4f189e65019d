package itest

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Missing is an integration run a package's tests skipped.
type Missing struct {
	Name string // e.g. "etcd"
	Env  string // the LBHC_TEST_* variable it needs
}

// SkippedNote returns the one-line note a package's TestMain prints when
// some of its integration runs skip for want of the servers scripts/test.sh
// starts, or "" when nothing skipped (or LBHC_REQUIRE_INTEGRATION=1 made
// them fail instead). cmd is the one command that runs them all.
func SkippedNote(what string, runs []Missing, cmd string) string {
	if Strict() {
		return ""
	}
	var names []string
	for _, r := range runs {
		if os.Getenv(r.Env) == "" {
			names = append(names, r.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("NOTE: %s skipped for %s (no test servers); run them all with: %s", what, strings.Join(names, ", "), cmd)
}

// Announce prints a note where a developer running a quick go test ./...
// sees it: go test shows nothing of a passing package but its "ok" line, so
// the note goes to the controlling terminal when there is one, else to
// stderr (visible with -v and in CI logs).
func Announce(note string) {
	if note == "" {
		return
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprintln(tty, note)
		tty.Close()
		return
	}
	fmt.Fprintln(os.Stderr, note)
}

// Run is an integration test of a package and the server it needs.
type Run struct {
	Test string // the test function, matched against -test.run
	Missing
}

// MainAnnounce is a package's TestMain: it runs the tests, then says once
// which of runs -test.run selected but skipped for want of a server, and
// the one command (cmd) that runs them all. It returns the exit code.
func MainAnnounce(m *testing.M, what string, runs []Run, cmd string) int {
	code := m.Run()
	sel := regexp.MustCompile(".")
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		if re, err := regexp.Compile(f.Value.String()); err == nil {
			sel = re
		}
	}
	var selected []Missing
	for _, r := range runs {
		if sel.MatchString(r.Test) {
			selected = append(selected, r.Missing)
		}
	}
	Announce(SkippedNote(what, selected, cmd))
	return code
}
