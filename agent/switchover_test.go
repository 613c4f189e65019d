package agent

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

func TestSwitchoverRefusalAndPlanMessages(t *testing.T) {
	known := func(nodes ...string) election.Candidates {
		return election.Candidates{Supported: true, Known: true, Window: 6 * time.Second, Nodes: nodes}
	}
	refusals := []struct {
		backend string
		c       election.Candidates
		want    string
	}{
		{"none", election.Candidates{}, "refused: with --election none there is no other node to take over (the cluster manager decides where lbhc runs); still leading"},
		{"file", known(), "refused: no other node has campaigned in the last 6s (are they down, in standby or sitting out?); still leading"},
		{"file", known("b"), ""},
		{"file", election.Candidates{Supported: true, KnownIn: time.Second}, ""},
		{"dynamodb", election.Candidates{}, ""},
	}
	for _, tc := range refusals {
		if got := switchoverRefusal(tc.backend, tc.c); got != tc.want {
			t.Errorf("switchoverRefusal(%s, %+v)\n got  %q\n want %q", tc.backend, tc.c, got, tc.want)
		}
	}
	leader := func(backend string, c *CandidatesStatus) Status {
		return Status{NodeID: "a", Role: RoleLeader, Election: backend, Candidates: c}
	}
	plans := []struct {
		s    Status
		want string
	}{
		{leader("file", &CandidatesStatus{Supported: true, Known: true, Nodes: []string{"b", "c"}, Window: "6s"}),
			"switchover: a releases the lease; campaigning and able to take over: b, c"},
		{leader("file", &CandidatesStatus{Supported: true, Window: "6s"}),
			"switchover: a has watched the other nodes for less than 6s and cannot tell whether one can take over; it releases the lease and closes its probe, and if no other node takes over within the sit-out, a leads again and this command fails"},
		{leader("dynamodb", &CandidatesStatus{}),
			"switchover: the dynamodb backend cannot show a which other nodes campaign, so it releases the lease and closes its probe; if no other node takes over within the sit-out, a leads again and this command fails"},
		{leader("file", &CandidatesStatus{Supported: true, Known: true, Window: "6s"}), ""}, // the agent refuses
		{leader("none", &CandidatesStatus{}), ""},                                           // the agent refuses
		{Status{NodeID: "a", Role: RoleFollower, Election: "file"}, ""},                     // the agent answers "does not lead"
	}
	for _, tc := range plans {
		if got := SwitchoverPlan(tc.s); got != tc.want {
			t.Errorf("SwitchoverPlan(%+v)\n got  %q\n want %q", tc.s, got, tc.want)
		}
	}
}

func postCommand(t *testing.T, h *harness, op string) (int, CommandResult) {
	t.Helper()
	// State changes go through the admin socket (TCP POSTs need a token).
	resp, err := unixClient(filepath.Join(h.a.cfg.StateDir, "admin.sock")).Post("http://lbhc/"+op, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r CommandResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

// A lone leader refuses a switchover before stepping down: its probe is
// never closed. With a second node campaigning, leadership moves to it.
func TestSwitchoverRefusesWhenNobodyCanTakeOver(t *testing.T) {
	store := election.NewMemoryStore()
	r := &recorder{}
	a := newHarness(t, store, Config{NodeID: "a"}, &fakeVIPs{r: r}, nil, nil)
	a.waitRole(RoleLeader, 2*time.Second)
	// Refusing needs a full window of watching (3 retry periods).
	for end := time.Now().Add(2 * time.Second); !a.a.Snapshot().Candidates.Known; {
		if time.Now().After(end) {
			t.Fatalf("leader never knew its candidates: %+v", a.a.Snapshot().Candidates)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.reset()
	code, res := postCommand(t, a, "switchover")
	if code != http.StatusConflict || res.OK || res.Message != "refused: no other node has campaigned in the last 300ms (are they down, in standby or sitting out?); still leading" {
		t.Fatalf("lone leader's switchover: %d %+v", code, res)
	}
	if a.a.currentRole() != RoleLeader || slices.Contains(r.list(), "probe.follow") || !a.probe.answering() {
		t.Fatalf("lone leader stepped down anyway: role %s, ops %v", a.a.currentRole(), r.list())
	}

	b := newHarness(t, store, Config{NodeID: "b"}, &fakeVIPs{r: &recorder{}}, nil, nil)
	b.waitRole(RoleFollower, time.Second)
	deadline := time.Now().Add(2 * time.Second)
	for !slices.Equal(a.a.Snapshot().Candidates.Nodes, []string{"b"}) {
		if time.Now().After(deadline) {
			t.Fatalf("leader never saw b campaigning: %+v", a.a.Snapshot().Candidates)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, res = postCommand(t, a, "switchover")
	if code != http.StatusOK || !res.OK || res.Leader != "b" {
		t.Fatalf("switchover with b campaigning: %d %+v", code, res)
	}
	b.waitRole(RoleLeader, time.Second)
}
