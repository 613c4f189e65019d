package cmdline

import (
	"strings"
	"testing"

	"github.com/lbhc/lbhc/agent"
)

func TestPrintPeerStatus(t *testing.T) {
	var b strings.Builder
	printStatus(&b, agent.Status{NodeID: "a", Role: agent.RoleLeader,
		Peers: []agent.PeerInfo{
			{ID: "b", Addr: "10.0.0.2:26002", Up: true, Role: "follower", Term: 4, LastSeenMS: 300, PromiseUntilMS: 9500},
			{ID: "c", Addr: "10.0.0.3:26002"},
		},
		Failsafe: &agent.FailsafeInfo{Enabled: true, Active: true, Promise: "10s", Reason: "timeout", SinceMS: 61000, ValidForMS: 9400}})
	for _, want := range []string{
		"peer b (10.0.0.2:26002): up, follower in term 4, last heard 300ms ago, promised for 9.5s\n",
		"peer c (10.0.0.3:26002): down, never heard\n",
		"failsafe: ACTIVE for 1m1s (backend timeout), leading on the peers' promises for 9.4s more\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	printStatus(&b, agent.Status{NodeID: "b", Role: agent.RoleFollower,
		Failsafe: &agent.FailsafeInfo{Enabled: true, Promise: "10s", Given: []agent.GivenPromise{{Leader: "a", Term: 4, LeftMS: 8000}}}})
	for _, want := range []string{"failsafe: on (promise 10s), not active\n", "promised not to take over: a term 4 for 8s\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	printStatus(&b, agent.Status{NodeID: "a", Role: agent.RoleLeader})
	if strings.Contains(b.String(), "peer") || strings.Contains(b.String(), "failsafe") {
		t.Errorf("status without peers mentions them:\n%s", b.String())
	}
}
