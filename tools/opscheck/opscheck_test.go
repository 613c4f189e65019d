package opscheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// root is the lbhc repository (this module lives in tools/opscheck).
const root = "../.."

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// require fails under LBHC_REQUIRE_INTEGRATION=1 and skips otherwise, as
// the main module's itest package does.
func require(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("LBHC_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg + " (required: LBHC_REQUIRE_INTEGRATION=1)")
	}
	t.Skip(msg)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// lbhcBinary is $LBHC_OPSKIT_BIN or a fresh build of the repository.
func lbhcBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LBHC_OPSKIT_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "opscheck-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "lbhc")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = err
			t.Logf("%s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("build lbhc: %v", binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// kit returns every expression of the dashboard and the rules, and the
// names the rules record.
func kit(t *testing.T, dashboard []byte) ([]Expr, map[string]bool) {
	t.Helper()
	exprs, err := DashboardExprs(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules(read(t, "packaging/prometheus/lbhc-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return append(exprs, rules.Exprs...), rules.Recorded
}

// TestOpsKitAgainstScrape: every query of the dashboard and the rules parses
// and names only metrics in $LBHC_OPSKIT_SCRAPE, the /metrics of an lbhc
// run with every part enabled (written by e2e TestOpsKitScrape, run by
// scripts/e2e/test_opskit.sh).
func TestOpsKitAgainstScrape(t *testing.T) {
	path := os.Getenv("LBHC_OPSKIT_SCRAPE")
	if path == "" {
		require(t, "LBHC_OPSKIT_SCRAPE not set: run scripts/e2e/test_opskit.sh (as root) to scrape a running lbhc")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseScrape(f)
	if err != nil {
		t.Fatal(err)
	}
	exprs, recorded := kit(t, read(t, "packaging/grafana/lbhc.json"))
	for _, err := range CheckExprs(exprs, s, recorded) {
		t.Error(err)
	}
	used := map[string]bool{}
	for _, e := range exprs {
		names, _ := MetricNames(e.Query)
		for _, n := range names {
			used[n] = true
		}
	}
	t.Logf("%d expressions, %d metric names checked against %d scraped series names", len(exprs), len(used), len(s.Series))
}

// allNames builds a scrape holding exactly the names and matcher labels
// the kit uses (minus recorded ones and up), as the baseline of the
// mutation tests below.
func allNames(t *testing.T, exprs []Expr, recorded map[string]bool) Scrape {
	s := Scrape{Series: map[string]bool{}, Histograms: map[string]bool{}, Labels: map[string]map[string]bool{}}
	for _, e := range exprs {
		sels, err := Selectors(e.Query)
		if err != nil {
			t.Fatalf("%s: %v", e.Where, err)
		}
		for _, sel := range sels {
			if n := sel.Metric; !recorded[n] && !builtin[n] {
				s.Series[n] = true
				if s.Labels[n] == nil {
					s.Labels[n] = map[string]bool{}
				}
				for _, l := range sel.Labels {
					s.Labels[n][l] = true
				}
			}
		}
	}
	return s
}

// TestCheckCatchesRenamedAndMissingMetrics: a metric renamed in the
// dashboard, or missing from the scrape, or a bare histogram name, or a
// query that does not parse, is reported.
func TestCheckCatchesRenamedAndMissingMetrics(t *testing.T) {
	dash := read(t, "packaging/grafana/lbhc.json")
	exprs, recorded := kit(t, dash)
	s := allNames(t, exprs, recorded)
	if errs := CheckExprs(exprs, s, recorded); len(errs) != 0 {
		t.Fatalf("baseline: %v", errs)
	}
	renamed := strings.ReplaceAll(string(dash), "lbhc_lease_renew_failures_total", "lbhc_lease_renew_failure_total")
	rexprs, _ := kit(t, []byte(renamed))
	errs := CheckExprs(rexprs, s, recorded)
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "metric lbhc_lease_renew_failure_total is not in the scrape") {
		t.Errorf("renamed metric: got %v", errs)
	}

	// A label renamed in a matcher (the alert's reason!~ would then match
	// every refusal) is reported; job and instance come from the target.
	relabelled := strings.ReplaceAll(string(read(t, "packaging/prometheus/lbhc-rules.yaml")),
		`lbhc_peer_messages_refused_total{reason!~`, `lbhc_peer_messages_refused_total{cause!~`)
	rules, err := ParseRules([]byte(relabelled))
	if err != nil {
		t.Fatal(err)
	}
	errs = CheckExprs(rules.Exprs, s, recorded)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "label cause of lbhc_peer_messages_refused_total is not in the scrape") {
		t.Errorf("renamed label: got %v", errs)
	}
	if errs := CheckExprs([]Expr{{Where: "x", Query: `lbhc_peer_up{job="lbhc", instance="a:9102"}`}}, s, recorded); len(errs) != 0 {
		t.Errorf("target labels: got %v", errs)
	}

	delete(s.Series, "lbhc_cloud_action_verified")
	errs = CheckExprs(exprs, s, recorded)
	if len(errs) < 2 { // the dashboard panel and the alert use it
		t.Errorf("missing metric: got %v", errs)
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), "lbhc_cloud_action_verified") {
			t.Errorf("unexpected: %v", err)
		}
	}

	s.Histograms["lbhc_lease_renew_duration_seconds"] = true
	errs = CheckExprs([]Expr{{Where: "x", Query: `rate(lbhc_lease_renew_duration_seconds[5m])`}}, s, recorded)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "is a histogram") {
		t.Errorf("bare histogram: got %v", errs)
	}
	errs = CheckExprs([]Expr{{Where: "x", Query: `sum by (group (lbhc_is_leader)`}}, s, recorded)
	if len(errs) != 1 {
		t.Errorf("parse error: got %v", errs)
	}
	errs = CheckExprs([]Expr{{Where: "x", Query: `{__name__=~"lbhc_.*"}`}}, s, recorded)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "no fixed metric name") {
		t.Errorf("regex name: got %v", errs)
	}
}

func TestParseScrapeHistogram(t *testing.T) {
	s, err := ParseScrape(strings.NewReader(`# HELP h help
# TYPE h histogram
h_bucket{le="1"} 0
h_bucket{le="+Inf"} 0
h_sum 0
h_count 0
# TYPE g gauge
g{a="b"} 1
g{c="x\",y\\\"}{",d="e"} 1
up 1
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"h_bucket", "h_sum", "h_count", "g", "up"} {
		if !s.Series[n] {
			t.Errorf("%s missing", n)
		}
	}
	if s.Series["h"] || !s.Histograms["h"] {
		t.Errorf("h: series %v, histogram %v", s.Series["h"], s.Histograms["h"])
	}
	if got := strings.Join(sortedKeys(s.Labels["g"]), ","); got != "a,c,d" {
		t.Errorf("labels of g: %s, want a,c,d", got)
	}
	if got := strings.Join(sortedKeys(s.Labels["h_bucket"]), ","); got != "le" {
		t.Errorf("labels of h_bucket: %s, want le", got)
	}
	if _, err := ParseScrape(strings.NewReader(`g{a="b} 1` + "\n")); err == nil {
		t.Error("unclosed label value accepted")
	}
}

func TestGrafanaVariablesExpand(t *testing.T) {
	names, err := MetricNames(`sum by (node) (rate(a_total{group=~"$group", node=~"${node:regex}"}[$__rate_interval])) * on (job) b[[x]]`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "a_total,bx" {
		t.Fatalf("names = %v", names)
	}
}
