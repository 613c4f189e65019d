// Package gcp holds the Google Cloud failover actions (a VPC static route
// and an alias IP range pointed at the leader) and instance metadata. It
// speaks the Compute Engine REST API v1 and the metadata server with plain
// net/http + encoding/json; the bookkeeping (metrics, status, monitor
// repairs) is cloud.Shell's, shared with the AWS and Azure actions.
package gcp

import "github.com/lbhc/lbhc/cloud"

// The cloud contract these actions implement, under the short names their
// code uses.
type (
	Event   = cloud.Event
	Status  = cloud.Status
	Metrics = cloud.Metrics
)

// ErrNotLeader is cloud.ErrNotLeader.
var ErrNotLeader = cloud.ErrNotLeader
