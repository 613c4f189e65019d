package itest

import (
	"strings"
	"testing"
)

func TestSkippedNote(t *testing.T) {
	t.Setenv(StrictEnv, "")
	t.Setenv("LBHC_TEST_X", "")
	t.Setenv("LBHC_TEST_Y", "set")
	runs := []Missing{{"x-store", "LBHC_TEST_X"}, {"y-store", "LBHC_TEST_Y"}}
	got := SkippedNote("suite", runs, "scripts/test.sh go test ./p/")
	if !strings.Contains(got, "skipped for x-store (") || strings.Contains(got, "y-store") || !strings.HasSuffix(got, ": scripts/test.sh go test ./p/") {
		t.Fatalf("note %q: want x-store only and the command", got)
	}
	t.Setenv("LBHC_TEST_X", "set")
	if got := SkippedNote("suite", runs, "cmd"); got != "" {
		t.Fatalf("nothing missing, note %q", got)
	}
	t.Setenv("LBHC_TEST_X", "")
	t.Setenv(StrictEnv, "1")
	if got := SkippedNote("suite", runs, "cmd"); got != "" {
		t.Fatalf("strict mode fails instead of skipping, yet note %q", got)
	}
}
