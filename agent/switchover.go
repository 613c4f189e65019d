package agent

import (
	"fmt"
	"strings"
	"time"

	"github.com/lbhc/lbhc/election"
)

// CandidatesStatus is the leader's knowledge of nodes that could take over,
// in /status (leaders only).
type CandidatesStatus struct {
	// Supported: the backend keeps a roster of campaigning nodes (file).
	Supported bool `json:"supported"`
	// Known: the leader has watched the roster long enough that Nodes is
	// the whole truth.
	Known bool `json:"known"`
	// Nodes campaigned within Window, e.g. ["b","c"].
	Nodes  []string `json:"nodes,omitempty"`
	Window string   `json:"window,omitempty"`
}

func candidatesStatus(c election.Candidates) *CandidatesStatus {
	s := &CandidatesStatus{Supported: c.Supported, Known: c.Known, Nodes: c.Nodes}
	if c.Supported {
		s.Window = c.Window.String()
	}
	return s
}

// switchoverRefusal says why a switchover must not start, or "" when it
// may: with no other node able to take over, stepping down would only
// close the probe for the sit-out and then lead again.
func switchoverRefusal(backend string, c election.Candidates) string {
	switch {
	case backend == "none":
		return "refused: with --election none there is no other node to take over " +
			"(the cluster manager decides where lbhc runs); still leading"
	case c.Known && len(c.Nodes) == 0:
		return fmt.Sprintf("refused: no other node has campaigned in the last %s "+
			"(are they down, in standby or sitting out?); still leading", c.Window)
	}
	return ""
}

// switchoverCheck refuses a switchover when the leader knows that nobody
// could take over. It does not wait to find out: a node that has watched
// the roster for less than a window proceeds (and the CLI said so), so a
// switchover never gets slower.
func (a *Agent) switchoverCheck() string {
	if a.currentRole() != RoleLeader {
		return "" // the loop answers "this node does not lead"
	}
	return switchoverRefusal(a.cfg.Election, a.p.Engine.Candidates())
}

// switchoverSitOut is how long the old leader stays out after releasing:
// long enough for a follower to see the release (one retry period) and
// for the slowest campaigning node to act on it. Without a roster, this
// node's own acquire delay is the estimate.
func (a *Agent) switchoverSitOut() time.Duration {
	delay := a.maxAcquireDelay()
	if c := a.p.Engine.Candidates(); c.Known && len(c.Nodes) > 0 {
		delay = c.MaxDelay
	}
	return 2*a.cfg.Timing.RetryPeriod + delay + time.Second
}

// SwitchoverPlan says in one line what a switchover on the node of s will
// do, before it is asked to ("" when the agent itself refuses or answers
// with an error: not the leader, or nobody could take over).
func SwitchoverPlan(s Status) string {
	c := s.Candidates
	if s.Role != RoleLeader || c == nil || switchoverRefusal(s.Election, election.Candidates{Known: c.Known, Nodes: c.Nodes}) != "" {
		return ""
	}
	switch {
	case c.Known:
		return fmt.Sprintf("switchover: %s releases the lease; campaigning and able to take over: %s",
			s.NodeID, strings.Join(c.Nodes, ", "))
	case c.Supported:
		return fmt.Sprintf("switchover: %s has watched the other nodes for less than %s and cannot tell "+
			"whether one can take over; it releases the lease and closes its probe, and if no other node "+
			"takes over within the sit-out, %s leads again and this command fails", s.NodeID, c.Window, s.NodeID)
	}
	return fmt.Sprintf("switchover: the %s backend cannot show %s which other nodes campaign, so it "+
		"releases the lease and closes its probe; if no other node takes over within the sit-out, "+
		"%s leads again and this command fails", s.Election, s.NodeID, s.NodeID)
}
