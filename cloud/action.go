// Package cloud holds the failover actions a leader runs after it has taken
// the lease and added its VIPs: pointing cloud routing (Route53 records, EC2
// and Azure route tables, Elastic IPs) at this node, and user hooks.
//
// An action is promoted once per term, monitored (verify + repair) while the
// node leads, and demoted when leadership ends. Actions never decide
// leadership; they are told about it through Event.
package cloud

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// ErrNotLeader is returned by an action that refused to make a mutating call
// because Event.Valid reported that leadership had already ended.
var ErrNotLeader = errors.New("leadership no longer valid; refusing to write")

// Event describes the leadership an action works for.
type Event struct {
	Role   string // "leader" or "follower": the role being entered
	Term   uint64 // fencing number of the grant; strictly increasing
	NodeID string
	Leader string // node id of the leader as last observed ("" if unknown)
	VIPs   []netip.Prefix
	// Valid reports whether this node's leadership deadline has not passed.
	// Actions call it immediately before every mutating cloud call and
	// return ErrNotLeader instead of writing when it reports false.
	// It is nil for demote events.
	Valid func() bool
}

// Leading is Valid with a nil func meaning "not leading": what an action
// asks before a write.
func (ev Event) Leading() bool { return ev.Valid != nil && ev.Valid() }

// Action is one failover step. Implementations are safe for use by one
// goroutine at a time (the agent serialises calls).
type Action interface {
	// Name is a short stable identifier used in logs, metrics and /status,
	// e.g. "route53", "ec2-route", "eip", "azure-route", "hook".
	Name() string
	// Promote makes the cloud state point at this node and verifies it.
	// It returns only when the change is verified or has failed for good
	// (after its own retries); ctx ends when leadership ends.
	Promote(ctx context.Context, ev Event) error
	// Monitor verifies the state while leading and repairs drift. It
	// reports whether it had to repair anything.
	Monitor(ctx context.Context, ev Event) (repaired bool, err error)
	// Demote runs when leadership ends (most cloud actions do nothing:
	// the next leader overwrites the state).
	Demote(ctx context.Context, ev Event) error
	// Status is what /status shows for this action.
	Status() Status
}

// Status is an action's last known state, as shown in /status.
type Status struct {
	Name         string    `json:"name"`
	State        string    `json:"state"` // "idle", "ok", "repaired", "failed"
	Detail       string    `json:"detail,omitempty"`
	LastVerified time.Time `json:"last_verified,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
}
