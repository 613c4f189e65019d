package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGolden feeds a recorded `go test -json` stream (a build failure, a
// failing subtest, a skip, a timed-out test, a package without tests, a plain
// line) and compares the report and the results file.
func TestGolden(t *testing.T) {
	in, err := os.Open("testdata/mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out strings.Builder
	results := filepath.Join(t.TempDir(), "results")
	failed, err := run(in, &out, results)
	if err != nil || !failed {
		t.Fatalf("run = %v, %v; want failed, no error", failed, err)
	}
	want, err := os.ReadFile("testdata/mixed.golden")
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("report:\n%s\nwant:\n%s", out.String(), want)
	}
	got, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	wantResults := "fail jx/b\nfail jx/a\nfail jx/c\nnotests jx/d\n"
	if string(got) != wantResults {
		t.Errorf("results file:\n%s\nwant:\n%s", got, wantResults)
	}
}

func TestAllPass(t *testing.T) {
	in := strings.NewReader(`{"Action":"start","Package":"p"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:3: noisy log of a passing test\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.01s\n"}
{"Action":"pass","Package":"p"}
`)
	var out strings.Builder
	failed, err := run(in, &out, "")
	if err != nil || failed {
		t.Fatalf("run = %v, %v; want passed", failed, err)
	}
	want := "ok  \tp\t0.01s\n\ngo test: packages 1 ok, 0 failed, 0 without tests; tests 1 passed, 0 failed, 0 skipped\n"
	if out.String() != want {
		t.Errorf("report %q, want %q", out.String(), want)
	}
}

func TestSkipReason(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
	}{
		{nil, ""},
		{[]string{"=== RUN   TestX\n", "    x_test.go:4: needs root\n", "--- SKIP: TestX (0.00s)\n"}, "x_test.go:4: needs root"},
		{[]string{"=== RUN   TestY\n", "    y.go:1: a\n", "=== CONT  TestY\n", "    y.go:2: b\n", "--- SKIP: TestY (0.00s)\n"}, "y.go:1: a | y.go:2: b"},
	}
	for _, tt := range tests {
		if got := skipReason(tt.lines); got != tt.want {
			t.Errorf("skipReason(%q) = %q, want %q", tt.lines, got, tt.want)
		}
	}
}
