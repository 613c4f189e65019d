package cloud

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// PlatformNotice is one announcement by the cloud platform that this VM is
// about to be frozen, rebooted, moved, preempted or stopped.
type PlatformNotice struct {
	// Source names the feed: "azure-scheduled-events", "aws-spot",
	// "aws-rebalance" or "aws-maintenance".
	Source string `json:"source"`
	// ID identifies the notice across polls: Azure's EventId, AWS's
	// maintenance EventId, or a key built from the spot/rebalance document.
	ID string `json:"id"`
	// Type is the platform's word for what happens (Freeze, Reboot,
	// terminate, rebalance, system-reboot, ...).
	Type string `json:"type"`
	// NotBefore is the earliest time the platform acts; zero when the
	// platform gave none (an event already started).
	NotBefore time.Time `json:"not_before,omitzero"`
	// Ackable: the platform proceeds at once when told (Azure only).
	Ackable bool `json:"-"`
}

// PlatformNotices is the set of notices in force for this VM. A watcher
// sends it whenever the set changes; an empty set means "all clear".
type PlatformNotices struct {
	Notices []PlatformNotice
}

// IDs lists the notice IDs, sorted.
func (p PlatformNotices) IDs() []string {
	ids := make([]string, 0, len(p.Notices))
	for _, n := range p.Notices {
		ids = append(ids, n.Source+"/"+n.ID)
	}
	slices.Sort(ids)
	return ids
}

// PollNotices runs poll every interval until ctx ends and sends the result
// to out when its set of IDs differs from the last one sent, so that a poll
// may return the same notices again and again. Failed polls are logged once
// per failure streak and change nothing: a metadata service that does not
// answer is no reason to step down.
func PollNotices(ctx context.Context, log *slog.Logger, interval time.Duration,
	poll func(context.Context) (PlatformNotices, error), out chan<- PlatformNotices) {
	var last []string
	sent, failing := false, false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(interval, 2*time.Second))
		cur, err := poll(pctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				log.Warn("platform notice poll failed; retrying", "err", err)
			}
			failing = true
		case err == nil:
			if failing {
				log.Info("platform notice poll works again")
			}
			failing = false
			ids := cur.IDs()
			if !sent || !slices.Equal(ids, last) {
				select {
				case out <- cur:
					last, sent = ids, true
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
