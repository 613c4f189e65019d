package aws

import (
	"context"
	"fmt"
	"log/slog"
)

// awsShell is the Promote / Monitor / Demote bookkeeping every AWS action
// shares, written once: the duration and failure metrics, the verified
// gauge and status (awsStatus.record), the repair counter and the log
// lines. An action supplies only its ensure step.
type awsShell struct {
	name   string // action name in metrics, status and logs: "eip"
	what   string // what the log lines call the cloud state: "elastic IP"
	prefix string // error prefix: "eip eipalloc-1"
	log    *slog.Logger
	m      *Metrics
	st     *awsStatus
}

// ensureFunc makes the cloud state point at this node and verifies it.
// changed reports that it had to write; detail describes the state for
// /status and the logs.
type ensureFunc func(ctx context.Context, ev Event, log *slog.Logger) (changed bool, detail string, err error)

// promote runs ensure once as the promotion step.
func (s awsShell) promote(ctx context.Context, ev Event, ensure ensureFunc) error {
	done := s.m.Track(s.name, OpPromote)
	log := s.log.With("term", ev.Term)
	changed, detail, err := ensure(ctx, ev, log)
	done(err)
	s.st.record(s.m, err, false, detail)
	if err != nil {
		log.Error(s.name+" promote failed", "detail", detail, "err", err)
		return fmt.Errorf("%s: %w", s.prefix, err)
	}
	log.Info(s.what+" verified", "detail", detail, "changed", changed)
	return nil
}

// monitor runs ensure as a periodic check; a write is a repair.
func (s awsShell) monitor(ctx context.Context, ev Event, ensure ensureFunc) (bool, error) {
	done := s.m.Track(s.name, OpMonitor)
	log := s.log.With("term", ev.Term)
	changed, detail, err := ensure(ctx, ev, log)
	done(err)
	if changed && err == nil {
		s.m.Repair(s.name)
		log.Warn(s.what+" had drifted; repaired", "detail", detail)
	}
	s.st.record(s.m, err, changed, detail)
	if err != nil {
		return changed, fmt.Errorf("%s: %w", s.prefix, err)
	}
	return changed, nil
}

// demote leaves the cloud state alone (the next leader rewrites it) and
// reports the action idle.
func (s awsShell) demote() error {
	s.st.idle("not leading")
	return nil
}
