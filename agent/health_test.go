package agent

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

func statusOf(t *testing.T, url string) int {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// /healthz fails only when the agent cannot act: here the backend call
// hangs and ignores its context, so the engine stops finishing steps; it
// recovers when the backend does. A backend that answers with errors keeps
// /healthz at 200 (the agent acts: it fences itself) but fails /readyz.
func TestHealthzFollowsEngineProgress(t *testing.T) {
	store := election.NewMemoryStore()
	h := newHarness(t, store, Config{}, &fakeVIPs{r: &recorder{}}, nil, nil)
	h.waitRole(RoleLeader, 2*time.Second)
	base := "http://" + h.a.AdminAddr()
	if c := statusOf(t, base+"/healthz"); c != 200 {
		t.Fatalf("/healthz %d while leading", c)
	}

	// Errors, answered at once: alive, not ready.
	store.SetFault(func(context.Context, string) error { return errors.New("503 service unavailable") })
	time.Sleep(h.a.engineStaleAfter() + 2*timing.RetryPeriod)
	if c := statusOf(t, base+"/healthz"); c != 200 {
		t.Fatalf("/healthz %d while the backend answers with errors", c)
	}
	if c := statusOf(t, base+"/readyz"); c != 503 {
		t.Fatalf("/readyz %d while the backend answers with errors", c)
	}

	// A call that ignores its context wedges the engine.
	var hang atomic.Bool
	hang.Store(true)
	store.SetFault(func(context.Context, string) error {
		for hang.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		return errors.New("stuck")
	})
	end := time.Now().Add(h.a.engineStaleAfter() + 2*time.Second)
	for statusOf(t, base+"/healthz") != 503 {
		if time.Now().After(end) {
			t.Fatal("/healthz stayed 200 while the engine was wedged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	store.SetFault(nil)
	hang.Store(false)
	end = time.Now().Add(2 * time.Second)
	for statusOf(t, base+"/healthz") != 200 {
		if time.Now().After(end) {
			t.Fatal("/healthz did not recover with the backend")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
