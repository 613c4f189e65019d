package election_test

import (
	"flag"
	"os"
	"regexp"
	"testing"

	"github.com/lbhc/lbhc/itest"
)

// conformanceRuns are the conformance suites that need a server started by
// scripts/test.sh; memory and file always run.
var conformanceRuns = []struct {
	test string
	itest.Missing
}{
	{"TestConformanceEtcd", itest.Missing{Name: "etcd", Env: "LBHC_TEST_ETCD_ENDPOINTS"}},
	{"TestConformanceDynamoDB", itest.Missing{Name: "DynamoDB", Env: "LBHC_TEST_DYNAMODB_ENDPOINT"}},
	{"TestConformanceAzureNative", itest.Missing{Name: "Azure blob lease", Env: "LBHC_TEST_AZURITE_CONNECTION_STRING"}},
	{"TestConformanceAzureRecord", itest.Missing{Name: "Azure blob record", Env: "LBHC_TEST_AZURITE_CONNECTION_STRING"}},
}

// TestMain says once, after the run, which conformance stores a quick
// go test skipped and how to run them all.
func TestMain(m *testing.M) {
	code := m.Run()
	var selected []itest.Missing
	run := regexp.MustCompile(".")
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		if re, err := regexp.Compile(f.Value.String()); err == nil {
			run = re
		}
	}
	for _, c := range conformanceRuns {
		if run.MatchString(c.test) {
			selected = append(selected, c.Missing)
		}
	}
	itest.Announce(itest.SkippedNote("election conformance suite", selected,
		"scripts/test.sh go test -count=1 -run Conformance ./election/"))
	os.Exit(code)
}
