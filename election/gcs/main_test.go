package gcs_test

import (
	"os"
	"testing"

	"github.com/lbhc/lbhc/itest"
)

// TestMain says once, after the run, which emulator tests a quick go test
// skipped and how to run them.
func TestMain(m *testing.M) {
	os.Exit(itest.MainAnnounce(m, "Cloud Storage emulator tests", []itest.Run{
		{Test: "TestConformanceGCS", Missing: itest.Missing{Name: "fake-gcs-server", Env: "LBHC_TEST_GCS_ENDPOINT"}},
		{Test: "TestEmulatorPreconditions", Missing: itest.Missing{Name: "fake-gcs-server", Env: "LBHC_TEST_GCS_ENDPOINT"}},
	}, "scripts/test.sh go test -count=1 ./election/gcs/"))
}
