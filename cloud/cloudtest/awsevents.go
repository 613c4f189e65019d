package cloudtest

import (
	"encoding/json"
	"time"
)

// Instance notices on the AWSIMDS fake, in the shapes AWS documents; each
// path answers 404 while no notice is set.

// SetSpotInstanceAction publishes spot/instance-action
// {"action": action, "time": at}; action "" withdraws it.
func (f *AWSIMDS) SetSpotInstanceAction(action string, at time.Time) {
	if action == "" {
		f.SetMetadata("spot/instance-action", "")
		return
	}
	b, _ := json.Marshal(map[string]string{"action": action, "time": at.UTC().Format(time.RFC3339)})
	f.SetMetadata("spot/instance-action", string(b))
}

// SetRebalanceRecommendation publishes events/recommendations/rebalance
// {"noticeTime": at}; a zero time withdraws it.
func (f *AWSIMDS) SetRebalanceRecommendation(at time.Time) {
	if at.IsZero() {
		f.SetMetadata("events/recommendations/rebalance", "")
		return
	}
	b, _ := json.Marshal(map[string]string{"noticeTime": at.UTC().Format(time.RFC3339)})
	f.SetMetadata("events/recommendations/rebalance", string(b))
}

// AWSMaintenanceEvent is one entry of events/maintenance/scheduled.
type AWSMaintenanceEvent struct {
	Code        string `json:"Code"` // system-reboot, instance-reboot, instance-stop, ...
	Description string `json:"Description"`
	EventID     string `json:"EventId"`
	NotAfter    string `json:"NotAfter"`  // "21 Jan 2019 09:17:23 GMT"
	NotBefore   string `json:"NotBefore"` // "21 Jan 2019 09:00:43 GMT"
	State       string `json:"State"`     // active, completed, canceled
}

// AWSMaintenanceTime formats t as the maintenance document does.
func AWSMaintenanceTime(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04:05 GMT") }

// SetMaintenanceEvents publishes the scheduled maintenance list; none
// withdraws it (404).
func (f *AWSIMDS) SetMaintenanceEvents(evs ...AWSMaintenanceEvent) {
	if len(evs) == 0 {
		f.SetMetadata("events/maintenance/scheduled", "")
		return
	}
	b, _ := json.Marshal(evs)
	f.SetMetadata("events/maintenance/scheduled", string(b))
}
