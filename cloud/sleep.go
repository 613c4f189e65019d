package cloud

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends, for the actions' retry backoff and
// read-back polling.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
