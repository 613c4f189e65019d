package aws

import (
	"github.com/lbhc/lbhc/cloud"
	"testing"
	"time"
)

// recvNotices returns what the watcher sends next, failing after 2 s.
func recvNotices(t *testing.T, ch chan PlatformNotices) PlatformNotices {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(2 * time.Second):
		t.Fatal("no notices sent")
	}
	return PlatformNotices{}
}

var NewMetrics = cloud.NewMetrics
