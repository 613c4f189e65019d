package cmdline

import (
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/cloud"
)

func TestPrintEventStatus(t *testing.T) {
	nb := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	n := cloud.PlatformNotice{Source: "azure-scheduled-events", ID: "e1", Type: "Freeze", NotBefore: nb}
	var b strings.Builder
	printStatus(&b, agent.Status{NodeID: "a", Role: agent.RoleStandby, VIPLink: "down", Platform: &agent.PlatformStatus{
		Hold: true, InForce: []cloud.PlatformNotice{n}, LastNotice: &n, LastAction: "switchover", LastActionAt: nb.Add(-time.Minute),
		Acknowledged: []string{"e1"}}})
	for _, want := range []string{
		"vip link: down\n",
		"platform notices: azure-scheduled-events Freeze e1 not before 2026-11-29T06:00:00Z (hold: true)\n",
		"last platform notice: azure-scheduled-events Freeze e1 not before 2026-11-29T06:00:00Z -> switchover at 2026-11-29T05:59:00Z, acknowledged e1\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	printStatus(&b, agent.Status{NodeID: "a", Role: agent.RoleLeader})
	if strings.Contains(b.String(), "platform") || strings.Contains(b.String(), "vip link") {
		t.Errorf("status without watchers mentions them:\n%s", b.String())
	}
}
