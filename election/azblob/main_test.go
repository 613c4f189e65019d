package azblob_test

import (
	"os"
	"testing"

	"github.com/lbhc/lbhc/itest"
)

// TestMain says once, after the run, which conformance stores a quick
// go test skipped and how to run them all.
func TestMain(m *testing.M) {
	os.Exit(itest.MainAnnounce(m, "election conformance suite", []itest.Run{
		{Test: "TestConformanceAzureNative", Missing: itest.Missing{Name: "Azure blob lease", Env: "LBHC_TEST_AZURITE_CONNECTION_STRING"}},
		{Test: "TestConformanceAzureRecord", Missing: itest.Missing{Name: "Azure blob record", Env: "LBHC_TEST_AZURITE_CONNECTION_STRING"}},
	}, "scripts/test.sh go test -count=1 -run Conformance ./election/..."))
}
