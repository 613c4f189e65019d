package aws

import "github.com/lbhc/lbhc/cloud"

// The cloud contract these actions and watchers implement, under the short
// names their code uses: provider code lives apart from the contract so
// that cloud itself links no SDK.
type (
	Event           = cloud.Event
	Status          = cloud.Status
	Metrics         = cloud.Metrics
	PlatformNotice  = cloud.PlatformNotice
	PlatformNotices = cloud.PlatformNotices
)

const (
	OpMonitor = cloud.OpMonitor
	OpPromote = cloud.OpPromote
)

var (
	ErrNotLeader = cloud.ErrNotLeader

	pollNotices = cloud.PollNotices
)
