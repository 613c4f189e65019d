//go:build unix

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
)

// slowPromoteHook is a real hook action whose promote command marks that it
// started and then sleeps 6 s (a Route 53 INSYNC wait or a slow
// application start, in miniature).
func slowPromoteHook(t *testing.T) (cloud.Action, string) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "promote-started")
	demoted := marker + ".demoted"
	h := cloud.NewHook(cloud.HookConfig{
		OnPromote: fmt.Sprintf("touch %s; sleep 6", marker),
		OnDemote:  "touch " + demoted,
		Timeout:   time.Minute,
	}, nil, cloud.NewMetrics(prometheus.NewRegistry()))
	return h, marker
}

func waitFile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s not created within %s", path, d)
}

// get fetches url and returns the status code and how long the answer took.
func get(t *testing.T, url string) (int, time.Duration) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// While a 6 s promote hook runs, the agent answers /healthz (200) and
// /status at once, and a switchover issued meanwhile is carried out, not
// refused as busy: the promotion is cancelled and undone, the lease
// released, and the other node takes over.
func TestSlowPromotionLoopAnswers(t *testing.T) {
	store := election.NewMemoryStore()
	hook, marker := slowPromoteHook(t)
	r := &recorder{}
	h := newHarnessWith(t, store, Config{}, &fakeVIPs{r: r}, []cloud.Action{hook}, nil)
	waitFile(t, marker, 2*time.Second)
	promoting := time.Now()
	rb := &recorder{}
	hb := newHarness(t, store, Config{NodeID: "b"}, &fakeVIPs{r: rb}, nil, nil)

	base := "http://" + h.a.AdminAddr()
	var worst time.Duration
	for time.Since(promoting) < 1500*time.Millisecond {
		for _, path := range []string{"/healthz", "/readyz", "/status"} {
			code, took := get(t, base+path)
			if code != 200 {
				t.Fatalf("%s answered %d during the promotion", path, code)
			}
			worst = max(worst, took)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Milliseconds on an idle machine; the bound leaves room for a loaded
	// CI runner but is far below the 2 s the old blocking loop took.
	if worst > 500*time.Millisecond {
		t.Fatalf("slowest admin answer during the promotion took %s", worst)
	}
	if got := h.a.currentRole(); got != RoleFollower {
		t.Fatalf("role %s while promoting, want follower until the probe opens", got)
	}
	var st Status
	resp, err := http.Get(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Term != 1 || st.Leader == "b" || st.Transition != "promoting" {
		t.Fatalf("/status during the promotion: term %d leader %q transition %q", st.Term, st.Leader, st.Transition)
	}

	start := time.Now()
	// State changes go through the admin socket (TCP POSTs need a token).
	resp, err = unixClient(filepath.Join(h.a.cfg.StateDir, "admin.sock")).Post("http://lbhc/switchover", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cr CommandResult
	json.NewDecoder(resp.Body).Decode(&cr)
	resp.Body.Close()
	if resp.StatusCode != 200 || cr.Leader != "b" {
		t.Fatalf("switchover during the promotion: %d %+v; want leadership moved to b", resp.StatusCode, cr)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("switchover during the promotion took %s: it waited for the 6 s hook", d)
	}
	hb.waitRole(RoleLeader, time.Second)
	if strings.Contains(strings.Join(h.r.list(), ","), "probe.lead") {
		t.Fatalf("cancelled promotion opened the probe: %v", h.r.list())
	}
	if _, err := os.Stat(marker + ".demoted"); err != nil {
		t.Fatal("the cancelled promotion's hook was not demoted")
	}
	if got := strings.Join(h.r.list(), ","); !strings.HasSuffix(got, "probe.follow,vip.remove") {
		t.Fatalf("undo order %s", got)
	}
}

// A lease lost in the middle of a 6 s promotion cancels it (the hook's
// process group is killed) and the demotion runs at once: the node is a
// follower with its VIPs removed within retry-period (detection at the
// next renewal) plus a small margin, not after the hook's 6 s.
func TestLeaseLostDuringPromotionDemotesAtOnce(t *testing.T) {
	store := election.NewMemoryStore()
	hook, marker := slowPromoteHook(t)
	r := &recorder{}
	h := newHarnessWith(t, store, Config{}, &fakeVIPs{r: r}, []cloud.Action{hook}, nil)
	waitFile(t, marker, 2*time.Second)
	rec, ver, err := store.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stolen := time.Now()
	if _, err := store.Update(context.Background(), election.Record{Holder: "stranger", Term: rec.Term + 1, TTL: time.Hour}, ver); err != nil {
		t.Fatal(err)
	}
	bound := timing.RetryPeriod + 500*time.Millisecond
	for !strings.HasSuffix(strings.Join(h.r.list(), ","), "vip.remove") {
		if time.Since(stolen) > bound+2*time.Second {
			t.Fatalf("no demotion %s after the lease was lost (ops %v)", time.Since(stolen), h.r.list())
		}
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(stolen)
	waitFile(t, marker+".demoted", time.Second)
	h.waitRole(RoleFollower, time.Second)
	if took > bound {
		t.Fatalf("demotion finished %s after the lease was lost; bound %s", took, bound)
	}
	if h.probe.answering() || strings.Contains(strings.Join(h.r.list(), ","), "probe.lead") {
		t.Fatal("probe opened by a promotion whose lease was lost")
	}
	if rec, _ := store.Snapshot(); rec.Holder != "stranger" {
		t.Fatalf("holder %q: a node that lost its lease must not write it", rec.Holder)
	}
	code, _ := get(t, "http://"+h.a.AdminAddr()+"/healthz")
	if code != 200 {
		t.Fatalf("/healthz %d after the demotion", code)
	}
}

// SIGTERM (the Run context ending) in the middle of a 6 s promotion
// cancels it: the hook is killed, the promotion undone, the lease released,
// all within --shutdown-timeout.
func TestShutdownDuringPromotion(t *testing.T) {
	store := election.NewMemoryStore()
	hook, marker := slowPromoteHook(t)
	r := &recorder{}
	const budget = 500 * time.Millisecond
	h := newHarnessWith(t, store, Config{ShutdownTimeout: budget}, &fakeVIPs{r: r}, []cloud.Action{hook}, nil)
	waitFile(t, marker, 2*time.Second)
	var took time.Duration
	h.once.Do(func() {
		start := time.Now()
		h.cancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Fatal("agent did not stop")
		}
		took = time.Since(start)
	})
	if took > budget+100*time.Millisecond {
		t.Fatalf("shutdown during the promotion took %s; budget %s", took, budget)
	}
	if rec, _ := store.Snapshot(); rec.Holder != "" {
		t.Fatalf("lease held by %q after the shutdown", rec.Holder)
	}
	if got := strings.Join(h.r.list(), ","); strings.Contains(got, "probe.lead") || !strings.HasSuffix(got, "vip.remove") {
		t.Fatalf("ops %s: want the promotion undone, the probe never opened", got)
	}
}
