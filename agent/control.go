package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Operator commands, run on the agent's loop goroutine so they never race
// a promotion.
type command struct {
	op    string // "switchover", "standby", "resume"
	reply chan result
}

type result struct {
	status int // HTTP status for the admin API
	msg    string
	// wait, for a switchover: how long the caller should watch for the new
	// leader (the node sits out that long).
	wait time.Duration
}

const standbyFile = "standby"

func loadStandby(dir string) (bool, error) {
	if dir == "" {
		return false, nil
	}
	_, err := os.Stat(filepath.Join(dir, standbyFile))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("read standby state: %w", err)
}

func saveStandby(dir string, on bool) error {
	if dir == "" {
		return errors.New("no --state-dir: standby cannot be kept across restarts")
	}
	p := filepath.Join(dir, standbyFile)
	if !on {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clear standby state: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create --state-dir: %w", err)
	}
	body := "standby since " + time.Now().UTC().Format(time.RFC3339) + "; remove with 'lbhc resume'\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		return fmt.Errorf("write standby state: %w", err)
	}
	return nil
}

// do sends a command to the loop and waits for the answer.
func (a *Agent) do(ctx context.Context, op string) result {
	c := command{op: op, reply: make(chan result, 1)}
	select {
	case a.cmds <- c:
	case <-ctx.Done():
		return result{status: 503, msg: "agent busy: " + ctx.Err().Error()}
	}
	select {
	case r := <-c.reply:
		return r
	case <-ctx.Done():
		return result{status: 503, msg: "no answer: " + ctx.Err().Error()}
	}
}

// handleCommand answers at once or, when the command has to wait for a
// demotion, hands the reply to the term's worker: the loop never waits.
// A command issued during a promotion is not refused: switchover and
// standby cancel the promotion, undo it and release. Loop goroutine only.
func (a *Agent) handleCommand(c command) {
	switch c.op {
	case "ping":
		c.reply <- result{status: 200, msg: "ok"}
	case "switchover":
		t := a.cur
		if t == nil || (t.stopping && !t.releasing) {
			c.reply <- result{status: 409, msg: "this node does not lead; run switchover on the leader"}
			return
		}
		// Already stepping down with a release (standby, failed checks)?
		// That demotion answers, and what keeps this node out then
		// (standby, the unhealthy delay) stays as it is.
		sitOut := a.switchoverSitOut()
		a.stopTerm(t, stopReq{reason: "switchover requested", release: true, handover: true, sitOut: sitOut, end: time.Now().Add(a.cfg.ShutdownTimeout)})
		t.waiters = append(t.waiters, waiter{c.reply, result{status: 202, msg: "released; sitting out " + sitOut.String(), wait: sitOut}})
	case "standby":
		if err := saveStandby(a.cfg.StateDir, true); err != nil {
			c.reply <- result{status: 500, msg: err.Error()}
			return
		}
		a.mu.Lock()
		a.standby = true
		a.mu.Unlock()
		a.updateEligibility()
		res := result{status: 200, msg: "standby: not campaigning until 'lbhc resume'"}
		if t := a.cur; t != nil {
			a.stopTerm(t, stopReq{reason: "operator standby", release: true, handover: true, end: time.Now().Add(a.cfg.ShutdownTimeout)})
			t.waiters = append(t.waiters, waiter{c.reply, res})
			return
		}
		a.setRole(RoleStandby, a.termNow(), "operator standby")
		c.reply <- res
	case "resume":
		if err := saveStandby(a.cfg.StateDir, false); err != nil {
			c.reply <- result{status: 500, msg: err.Error()}
			return
		}
		a.mu.Lock()
		a.standby = false
		a.mu.Unlock()
		a.updateEligibility()
		if a.cur == nil && a.currentRole() == RoleStandby && !a.isStandby() {
			a.setRole(RoleFollower, a.termNow(), "operator resume")
		}
		c.reply <- result{status: 200, msg: "resumed: campaigning"}
	default:
		c.reply <- result{status: 404, msg: "unknown command " + c.op}
	}
}

// maxAcquireDelay is this node's own current acquire delay, an estimate
// of how long peers may wait before taking a free lease.
func (a *Agent) maxAcquireDelay() time.Duration {
	return time.Duration(a.cfg.Priority-1) * a.cfg.PriorityStep
}

// termNow is the term a role change outside a grant is logged with: the
// newest term this node knows, its own last grant's or the one it last
// observed in the lease (as /status shows it). a.term alone is only set
// when this node is granted, so a follower that never led would log 0.
func (a *Agent) termNow() uint64 {
	a.mu.Lock()
	t := a.term
	a.mu.Unlock()
	return max(t, a.p.Engine.Status().Term)
}
