package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/election"
)

// syncBuffer is a bytes.Buffer safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// A follower that never led logs its role changes with the term it
// observed in the lease, the one /status shows — not 0 (a resume line that
// said term 0 while /status said 3 would send an operator looking for a
// lease that never existed).
func TestRoleChangeLogsObservedTerm(t *testing.T) {
	store := election.NewMemoryStore()
	// Node b holds term 3 and keeps it for the whole test.
	if _, err := store.Create(context.Background(), election.Record{Holder: "b", Term: 3, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{NodeID: "a", Election: "memory", Timing: timing, AdminAddress: "127.0.0.1:0", StateDir: t.TempDir(),
		MonitorInterval: time.Hour, ReconcileInterval: time.Hour}
	cfg.Timing.NodeID = "a"
	reg := prometheus.NewRegistry()
	eng, err := election.NewEngine(cfg.Timing, election.NewCASBackend(store, "a", timing.LeaseTTL, nil), election.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := New(cfg, Parts{Engine: eng, Probe: &fakeProbe{r: &recorder{}}}, slog.New(slog.NewJSONHandler(&logs, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-a.Ready()
	// Wait until the follower has observed b's grant.
	for end := time.Now().Add(3 * time.Second); a.Snapshot().Term != 3; {
		if time.Now().After(end) {
			t.Fatalf("follower never observed term 3: %+v", a.Snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, op := range []string{"standby", "resume"} {
		resp, err := unixClient(filepath.Join(cfg.StateDir, "admin.sock")).Post("http://lbhc/"+op, "", nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST /%s: %v %v", op, resp, err)
		}
		resp.Body.Close()
	}
	tests := []struct{ to, reason string }{
		{RoleStandby, "operator standby"},
		{RoleFollower, "operator resume"},
	}
	recs := logs.records(t)
	for _, tc := range tests {
		found := false
		for _, r := range recs {
			if r["msg"] == "role changed" && r["to"] == tc.to && r["reason"] == tc.reason {
				found = true
				if r["term"] != float64(3) {
					t.Errorf("role change to %s logged term %v; /status says %d", tc.to, r["term"], a.Snapshot().Term)
				}
			}
		}
		if !found {
			t.Errorf("no role change to %s (%s) logged: %v", tc.to, tc.reason, recs)
		}
	}
}
