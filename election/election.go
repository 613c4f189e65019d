// Package election decides which node of a group leads. The Engine owns the
// timing (lease-ttl, renew-deadline, retry-period) and the self-fence
// deadline; a Backend only performs one acquire/renew/release round trip
// against its store. CAS-record stores (file, DynamoDB, a blob record, memory)
// share one Backend implementation, casBackend, so each of them is a thin
// Store.
package election

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/lbhc/lbhc/configerr"
)

// Defaults as in client-go's leader election and Azure's minimum blob lease.
const (
	DefaultLeaseTTL      = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// ErrLeaseLost means the backend positively knows another node holds the
// lease (HTTP 409/412, a failed conditional check, a different lease ID). A
// leader demotes at once; it does not wait for its deadline.
var ErrLeaseLost = errors.New("lease held by another node")

// State is what one backend round trip observed.
type State struct {
	// Held is true when this node holds the lease after the call.
	Held bool
	// Term is the fencing number of the current grant (ours when Held).
	// It strictly increases with every grant.
	Term uint64
	// Leader is the node id of the current holder, "" when nobody holds it
	// or the backend cannot tell.
	Leader string
	// RetryAfter, when positive and shorter than the retry period, asks a
	// follower to try again that soon (e.g. exactly when an unrenewed
	// record's TTL runs out), so takeover does not wait for the next period.
	RetryAfter time.Duration
}

// Backend performs single lease operations. The Engine calls it from one
// goroutine at a time and bounds every call with a context.
type Backend interface {
	// TryAcquire takes the lease when renew is false, or renews the grant
	// this node already holds when renew is true. A new grant (renew false)
	// always gets a new, higher term, even if the store still names this
	// node. When renew is true and the lease is no longer ours it returns an
	// error wrapping ErrLeaseLost. Any other error is transient.
	TryAcquire(ctx context.Context, renew bool) (State, error)
	// Release gives up a lease this node holds so another node can take it
	// at once. Releasing a lease held by someone else is a no-op.
	Release(ctx context.Context) error
	// Close frees client resources. It does not release the lease.
	Close() error
}

// Waker is implemented by backends that learn of lease changes by push
// (etcd watch): the engine retries at once instead of at the next period.
type Waker interface {
	Changes() <-chan struct{}
}

// Peeker is implemented by backends that can look at the lease without
// taking it. free is true when TryAcquire(renew=false) would grant it now
// (released, expired, or never taken). The engine uses it to delay
// acquisition (priority, failed health checks) and to keep observing the
// leader while this node sits out.
type Peeker interface {
	Peek(ctx context.Context) (st State, free bool, err error)
}

// Config is the engine's timing.
type Config struct {
	NodeID        string
	LeaseTTL      time.Duration // how long a grant lasts without renewal
	RenewDeadline time.Duration // a leader self-fences this long after its last successful renew was sent
	RetryPeriod   time.Duration // interval between follower reads/acquire attempts and between retries of a failed renewal (see RenewInterval)
}

// ConfigError is invalid configuration; lbhc exits 2 on it. It is lbhc's
// one configuration error type.
type ConfigError = configerr.Error

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

var cfgErr = configerr.New

// MinRetryPeriod is the shortest --retry-period lbhc accepts: every node
// reads or writes the lease once a period, and 100 ms already means ten
// backend requests a second per node.
const MinRetryPeriod = 100 * time.Millisecond

// Validate checks the timing rules (README, "Timing and the failover
// bound"): renew-deadline < lease-ttl and 1.2 x retry-period <
// renew-deadline, all positive.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return cfgErr("node-id", "must not be empty")
	case strings.IndexFunc(c.NodeID, isControl) >= 0:
		// It goes into HTTP headers (X-Lbhc-Node), logs and hook
		// environments: CR/LF would inject headers or log lines.
		return cfgErr("node-id", "%q must not contain control characters", c.NodeID)
	case c.LeaseTTL <= 0:
		return cfgErr("lease-ttl", "must be positive, got %s", c.LeaseTTL)
	case c.RenewDeadline <= 0:
		return cfgErr("renew-deadline", "must be positive, got %s", c.RenewDeadline)
	case c.RetryPeriod <= 0:
		return cfgErr("retry-period", "must be positive, got %s", c.RetryPeriod)
	case c.RenewDeadline >= c.LeaseTTL:
		return cfgErr("renew-deadline", "%s must be shorter than --lease-ttl %s", c.RenewDeadline, c.LeaseTTL)
	case 6*c.RetryPeriod >= 5*c.RenewDeadline:
		return cfgErr("retry-period", "1.2 x %s must be shorter than --renew-deadline %s", c.RetryPeriod, c.RenewDeadline)
	}
	return nil
}
