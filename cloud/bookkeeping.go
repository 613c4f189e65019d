package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// StatusBox holds an action's Status behind a mutex: the agent reads it from
// its HTTP handler while the action runs.
type StatusBox struct {
	mu sync.Mutex
	st Status
}

// NewStatusBox returns the status of action name, idle.
func NewStatusBox(name string) *StatusBox {
	return &StatusBox{st: Status{Name: name, State: "idle"}}
}

// Get returns the current status.
func (s *StatusBox) Get() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Record stores the outcome of a promote or monitor pass and sets the
// verified gauge: true on success, false on a failure (not when leadership
// ended under the action, which is no failure of it).
func (s *StatusBox) Record(m *Metrics, err error, repaired bool, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Detail = detail
	switch {
	case errors.Is(err, ErrNotLeader):
		// Not a failure of the action: leadership ended under it.
		s.st.State = "idle"
		s.st.LastError = err.Error()
	case err != nil:
		s.st.State = "failed"
		s.st.LastError = err.Error()
		m.SetVerified(s.st.Name, false)
	default:
		s.st.State = "ok"
		if repaired {
			s.st.State = "repaired"
		}
		s.st.LastError = ""
		s.st.LastVerified = time.Now()
		m.SetVerified(s.st.Name, true)
	}
}

// Idle reports the action idle with detail.
func (s *StatusBox) Idle(detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.State = "idle"
	s.st.Detail = detail
}

// Shell is the Promote / Monitor / Demote bookkeeping every cloud action
// (route53, ec2-route, eip, azure-route) shares, written once: the duration
// and failure metrics, the verified gauge and status (StatusBox.Record), the
// repair counter and the log lines. An action supplies only its ensure step
// (read, write what differs, read back).
//
// The semantics, the same for every action:
//   - lbhc_cloud_action_verified is 1 after a pass that verified the state,
//     0 after a pass that failed, and 0 after Demote: a node that does not
//     lead has verified nothing for itself, and a 1 left over from its last
//     term would claim the cloud points at a follower.
//   - lbhc_cloud_action_repairs_total counts monitor passes that had to write
//     and then verified, one per pass however many routes or records it
//     rewrote; a pass that wrote but then failed counts as a failure only.
//   - A pass refused because leadership ended (ErrNotLeader) is no failure:
//     status "idle" with the refusal as last error, the verified gauge and
//     the failure counter untouched.
//   - The status detail describes the desired state also after a failure.
type Shell struct {
	Name   string // action name in metrics, status and logs: "eip"
	What   string // what the log lines call the cloud state: "elastic IP"
	Prefix string // error prefix: "eip eipalloc-1"
	Log    *slog.Logger
	M      *Metrics
	St     *StatusBox
}

// EnsureFunc makes the cloud state point at this node and verifies it.
// changed reports that it had to write; detail describes the state for
// /status and the logs.
type EnsureFunc func(ctx context.Context, ev Event, log *slog.Logger) (changed bool, detail string, err error)

// Promote runs ensure once as the promotion step.
func (s Shell) Promote(ctx context.Context, ev Event, ensure EnsureFunc) error {
	done := s.M.Track(s.Name, OpPromote)
	log := s.Log.With("term", ev.Term)
	changed, detail, err := ensure(ctx, ev, log)
	done(err)
	s.St.Record(s.M, err, false, detail)
	if err != nil {
		log.Error(s.Name+" promote failed", "detail", detail, "err", err)
		return fmt.Errorf("%s: %w", s.Prefix, err)
	}
	log.Info(s.What+" verified", "detail", detail, "changed", changed)
	return nil
}

// Monitor runs ensure as a periodic check; a write is a repair.
func (s Shell) Monitor(ctx context.Context, ev Event, ensure EnsureFunc) (bool, error) {
	done := s.M.Track(s.Name, OpMonitor)
	log := s.Log.With("term", ev.Term)
	changed, detail, err := ensure(ctx, ev, log)
	done(err)
	if changed && err == nil {
		s.M.Repair(s.Name)
		log.Warn(s.What+" had drifted; repaired", "detail", detail)
	}
	s.St.Record(s.M, err, changed, detail)
	if err != nil {
		return changed, fmt.Errorf("%s: %w", s.Prefix, err)
	}
	return changed, nil
}

// Demote leaves the cloud state alone (the next leader rewrites it; removing
// it would black-hole the VIP until then), reports the action idle and
// clears the verified gauge.
func (s Shell) Demote() error {
	s.St.Idle("not leading")
	s.M.SetVerified(s.Name, false)
	return nil
}
