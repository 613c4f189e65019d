// Command testreport turns `go test -json` on stdin into what a person reads
// in CI: the usual one line per package, the output of failing tests only,
// and at the end every skipped test with its reason (so a skip is never
// silent). scripts/test.sh runs it; with -results FILE it also writes one
// "pass|fail|notests PACKAGE" line per package for the harness's count.
//
//	go test -json ./... 2>&1 | go run ./tools/testreport -results /tmp/r.txt
//
// Lines that are not JSON (go command errors) are passed through. The exit
// status is 1 when a package failed, else 0.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json), including the
// build events (ImportPath, build-output) of Go 1.24 and later.
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

// result is a package's outcome.
type result struct {
	Package string
	Status  string // pass, fail, notests
}

// skip is a skipped test and the reason it logged.
type skip struct {
	Package, Test, Reason string
}

// report accumulates the stream.
type report struct {
	out     io.Writer
	pending map[string][]string // package + "\x00" + test → output lines
	order   []string            // keys of pending in first-output order
	Results []result
	Skips   []skip
	Tests   struct{ Passed, Failed, Skipped int }
}

func newReport(out io.Writer) *report {
	return &report{out: out, pending: map[string][]string{}}
}

// progressLine is output that -v adds and a non-verbose run does not show.
func progressLine(s string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// line handles one line of input.
func (r *report) line(raw []byte) {
	var e event
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &e) != nil {
		fmt.Fprintf(r.out, "%s\n", raw)
		return
	}
	key := e.Package + "\x00" + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.out, e.Output)
	case e.Action == "output" && e.Test != "":
		if _, ok := r.pending[key]; !ok {
			r.order = append(r.order, key)
		}
		r.pending[key] = append(r.pending[key], e.Output)
	case e.Action == "output":
		// Package level: the ok/FAIL line, panics, timeouts. "PASS" alone is
		// noise in a non-verbose view.
		if e.Output != "PASS\n" {
			fmt.Fprint(r.out, e.Output)
		}
	case e.Test != "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		lines := r.pending[key]
		delete(r.pending, key)
		switch e.Action {
		case "pass":
			r.Tests.Passed++
		case "fail":
			r.Tests.Failed++
			r.print(lines)
		case "skip":
			r.Tests.Skipped++
			r.Skips = append(r.Skips, skip{e.Package, e.Test, skipReason(lines)})
		}
	case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		status := map[string]string{"pass": "pass", "fail": "fail", "skip": "notests"}[e.Action]
		if e.Action == "fail" {
			// Tests cut short by a panic or the timeout never reported an end.
			for _, k := range r.order {
				lines, ok := r.pending[k]
				if !ok || !strings.HasPrefix(k, e.Package+"\x00") {
					continue
				}
				fmt.Fprintf(r.out, "--- UNFINISHED: %s %s\n", e.Package, strings.TrimPrefix(k, e.Package+"\x00"))
				r.print(lines)
				delete(r.pending, k)
			}
		}
		r.Results = append(r.Results, result{e.Package, status})
	}
}

func (r *report) print(lines []string) {
	for _, l := range lines {
		if !progressLine(l) {
			fmt.Fprint(r.out, l)
		}
	}
}

// skipReason is what a skipped test logged, without the progress and
// "--- SKIP" lines, on one line.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || progressLine(t) || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " | ")
}

// summary prints the skipped tests and the totals.
func (r *report) summary() {
	var pass, fail, none int
	for _, res := range r.Results {
		switch res.Status {
		case "pass":
			pass++
		case "fail":
			fail++
		default:
			none++
		}
	}
	if len(r.Skips) > 0 {
		fmt.Fprintf(r.out, "\nskipped tests (%d):\n", len(r.Skips))
		for _, s := range r.Skips {
			fmt.Fprintf(r.out, "  SKIP %s %s: %s\n", s.Package, s.Test, s.Reason)
		}
	}
	fmt.Fprintf(r.out, "\ngo test: packages %d ok, %d failed, %d without tests; tests %d passed, %d failed, %d skipped\n",
		pass, fail, none, r.Tests.Passed, r.Tests.Failed, r.Tests.Skipped)
}

func (r *report) failed() bool {
	for _, res := range r.Results {
		if res.Status == "fail" {
			return true
		}
	}
	return false
}

func run(in io.Reader, out io.Writer, resultsPath string) (failed bool, err error) {
	r := newReport(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024) // long lines: big test logs
	for sc.Scan() {
		r.line(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		return true, fmt.Errorf("reading go test output: %w", err)
	}
	r.summary()
	if resultsPath != "" {
		var b strings.Builder
		for _, res := range r.Results {
			fmt.Fprintf(&b, "%s %s\n", res.Status, res.Package)
		}
		if err := os.WriteFile(resultsPath, []byte(b.String()), 0o644); err != nil {
			return true, err
		}
	}
	return r.failed(), nil
}

func main() {
	results := flag.String("results", "", "write one `pass|fail|notests PACKAGE` line per package to this file")
	flag.Parse()
	failed, err := run(os.Stdin, os.Stdout, *results)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}
