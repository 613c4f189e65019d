package etcd_test

import (
	"os"
	"testing"

	"github.com/lbhc/lbhc/itest"
)

// TestMain says once, after the run, which conformance stores a quick
// go test skipped and how to run them all.
func TestMain(m *testing.M) {
	os.Exit(itest.MainAnnounce(m, "election conformance suite", []itest.Run{
		{Test: "TestConformanceEtcd", Missing: itest.Missing{Name: "etcd", Env: "LBHC_TEST_ETCD_ENDPOINTS"}},
	}, "scripts/test.sh go test -count=1 -run Conformance ./election/..."))
}
