package opscheck

import (
	"strings"
	"testing"
)

// TestRunbookAnchors: every alert's runbook annotation points at an anchor
// of README.md; a renamed anchor or a missing annotation is reported.
func TestRunbookAnchors(t *testing.T) {
	rules, err := ParseRules(read(t, "packaging/prometheus/lbhc-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme := read(t, "README.md")
	if len(rules.Runbooks) < 10 {
		t.Fatalf("%d alerts", len(rules.Runbooks))
	}
	for _, err := range CheckRunbooks(rules, readme) {
		t.Error(err)
	}
	renamed := strings.Replace(string(readme), `<a id="runbook-lbhcpeerdown">`, `<a id="runbook-lbhcpeersdown">`, 1)
	errs := CheckRunbooks(rules, []byte(renamed))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "alert LbhcPeerDown: README.md has no anchor") {
		t.Errorf("renamed anchor: got %v", errs)
	}
	rules.Runbooks["LbhcFailsafeActive"] = ""
	errs = CheckRunbooks(rules, readme)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "alert LbhcFailsafeActive: runbook") {
		t.Errorf("missing runbook: got %v", errs)
	}
}
