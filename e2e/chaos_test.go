//go:build linux

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Failover under faults with a real load balancer in front. Each
// scenario injects one fault into a settled cluster, waits until leadership
// settles again, and measures from the samples: failover time, client
// outage, client errors and split-brain instants. Every run asserts zero
// split-brain; crash runs also assert the crash bound.
//
// Environment (scripts/bench/failover.sh sets them; CI sets none):
//
//	LBHC_CHAOS_FULL=1      every scenario with every backend that makes
//	                       sense, and crash + graceful at several timings
//	LBHC_CHAOS_REPS=N      repetitions of each scenario (default 1)
//	LBHC_CHAOS_JSON=FILE   append each run's Result as a JSON line
//	LBHC_CHAOS_VERBOSE=1   log the tail of every node's log after each run
//	LBHC_CHAOS_TIMELINE=DIR write the first file-lease crash run's samples
//	                       as gnuplot data (scripts/bench/timeline.gp)

// scenario is one fault. inject may block (a pause that ends in SIGCONT);
// restore puts the cluster back after the measurement.
type scenario struct {
	name      string
	networked bool // needs a backend reached over the network
	moves     bool // leadership must move to another node
	crash     bool // the crash bound applies
	inject    func(c *Cluster, old *Node)
	restore   func(c *Cluster, old *Node)
}

// slowBackend is the one-way delay of "backend-slow": a 200 ms round trip,
// a tenth of the fast timing's renew deadline (a distant region).
const slowBackend = 100 * time.Millisecond

// verySlowBackend is the one-way delay of "backend-very-slow".
const verySlowBackend = 250 * time.Millisecond

func restart(c *Cluster, old *Node) { old.Start() }

var scenarios = []scenario{
	{name: "kill-9", moves: true, crash: true,
		inject: func(c *Cluster, old *Node) {
			old.Signal(syscall.SIGKILL)
			old.Wait(5 * time.Second)
		},
		restore: restart},
	{name: "host-cut", networked: true, moves: true, crash: true,
		inject:  func(c *Cluster, old *Node) { c.Net.Cut(old.Host) },
		restore: func(c *Cluster, old *Node) { c.Net.Restore(old.Host) }},
	{name: "sigstop", moves: true,
		// Frozen past the TTL, then thawed after another node leads: the
		// thawed one must not answer alongside it.
		inject: func(c *Cluster, old *Node) {
			frozen := time.Now()
			old.Signal(syscall.SIGSTOP)
			waitAnswerBy(c, frozen, old.Host.Name, c.Timing.CrashBound()+5*time.Second)
			time.Sleep(500 * time.Millisecond)
			old.Signal(syscall.SIGCONT)
			time.Sleep(c.Timing.Retry + 500*time.Millisecond)
		}},
	{name: "backend-unreachable-leader", networked: true, moves: true,
		inject: func(c *Cluster, old *Node) {
			c.undo = c.Backend.Blackhole(c.t, old.Host)
		},
		restore: func(c *Cluster, old *Node) { c.undo() }},
	{name: "backend-down-all", networked: true,
		// Nobody can renew: the leader fences itself by its deadline and
		// nobody answers until the backend is back.
		inject: func(c *Cluster, old *Node) {
			down := time.Now()
			c.Backend.Server.Stop()
			time.Sleep(time.Until(down.Add(c.Timing.Renew + time.Second)))
			if cur := c.Probe.Current(); len(cur) > 0 {
				c.t.Errorf("backend down for %s (renew-deadline %s + 1 s): %v still answer the probe",
					time.Since(down).Round(time.Millisecond), c.Timing.Renew, cur)
			}
			time.Sleep(time.Until(down.Add(c.Timing.TTL + time.Second)))
			c.Backend.Server.Start()
		}},
	{name: "backend-slow", networked: true,
		// slowBackend each way on every backend exchange, for two TTLs.
		inject: func(c *Cluster, old *Node) {
			c.Backend.Proxy.SetDelay(slowBackend)
			time.Sleep(2 * c.Timing.TTL)
			c.Backend.Proxy.SetDelay(0)
		}},
	{name: "backend-very-slow", networked: true,
		// verySlowBackend each way for two TTLs: a 500 ms round trip, a
		// quarter of the fast timing's renew deadline (benchmark only).
		inject: func(c *Cluster, old *Node) {
			c.Backend.Proxy.SetDelay(verySlowBackend)
			time.Sleep(2 * c.Timing.TTL)
			c.Backend.Proxy.SetDelay(0)
		}},
	{name: "sigterm", moves: true,
		inject: func(c *Cluster, old *Node) {
			old.Signal(syscall.SIGTERM)
			if !old.Wait(c.Timing.Renew + 5*time.Second) {
				c.t.Errorf("%s did not exit after SIGTERM", old.Host.Name)
			}
		},
		restore: restart},
	{name: "switchover", moves: true,
		inject: func(c *Cluster, old *Node) {
			if out, err := old.Control("switchover"); err != nil {
				c.t.Errorf("lbhc switchover on %s: %v: %s", old.Host.Name, err, out)
			}
		}},
	{name: "rolling-restart",
		// Followers first, the leader last, one at a time, each back and
		// settled before the next (what an upgrade does).
		inject: func(c *Cluster, old *Node) {
			order := slices.Clone(c.Nodes)
			slices.SortStableFunc(order, func(a, b *Node) int {
				if a == old {
					return 1
				} else if b == old {
					return -1
				}
				return 0
			})
			for _, n := range order {
				n.Signal(syscall.SIGTERM)
				if !n.Wait(c.Timing.Renew + 5*time.Second) {
					c.t.Errorf("%s did not exit after SIGTERM", n.Host.Name)
				}
				n.Start()
				waitAdmin(c, n, 20*time.Second)
				c.WaitStable("", false, c.Timing.CrashBound()+10*time.Second)
			}
		}},
	{name: "app-failure", moves: true,
		inject:  func(c *Cluster, old *Node) { c.Apps[old.Host.Name].Stop() },
		restore: func(c *Cluster, old *Node) { c.Apps[old.Host.Name].Start() }},
}

// waitAnswerBy waits until a node other than exclude answered the probe
// after since, at most d.
func waitAnswerBy(c *Cluster, since time.Time, exclude string, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, _, ok := c.Probe.FirstAnswerBy(since, exclude); ok {
			return
		}
		time.Sleep(probeEvery)
	}
}

// waitAdmin waits until n's admin API answers.
func waitAdmin(c *Cluster, n *Node, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, err := n.Status(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Errorf("%s's admin API did not answer within %s", n.Host.Name, d)
}

// chaosConfig is one cluster of the suite: a backend, a timing and the
// scenarios run on it.
type chaosConfig struct {
	backend   string
	timing    Timing
	scenarios []string
}

// ciConfigs is the reduced set CI runs once each (a few minutes on 2 cores):
// each scenario at least once, each backend with the faults specific to it.
func ciConfigs() []chaosConfig {
	return []chaosConfig{
		{BackendFile, timingFast, []string{"kill-9", "sigstop", "sigterm", "switchover", "app-failure", "rolling-restart"}},
		{BackendEtcd, timingFast, []string{"kill-9", "host-cut", "backend-unreachable-leader", "backend-down-all", "backend-slow"}},
		{BackendDynamoDB, timingFast, []string{"kill-9", "host-cut", "backend-unreachable-leader", "backend-down-all"}},
		{BackendAzureRecord, timingFast, []string{"kill-9", "host-cut", "backend-unreachable-leader"}},
		{BackendAzureNative, timingDefault, []string{"kill-9", "sigterm"}},
		// Crash and graceful failover at the DynamoDB record store's timing
		// and bounds.
		{BackendGCS, timingFast, []string{"kill-9", "sigterm"}},
	}
}

// fullConfigs is the benchmark: every scenario with every backend where it
// makes sense (the Azure native lease, 15 s minimum, only crash and
// graceful), plus crash and graceful at three timings on the file lease.
func fullConfigs() []chaosConfig {
	var all, local []string
	for _, s := range scenarios {
		all = append(all, s.name)
		if !s.networked {
			local = append(local, s.name)
		}
	}
	return []chaosConfig{
		{BackendFile, timingFast, local},
		{BackendEtcd, timingFast, all},
		{BackendDynamoDB, timingFast, all},
		{BackendAzureRecord, timingFast, all},
		{BackendGCS, timingFast, all},
		{BackendAzureNative, timingDefault, []string{"kill-9", "sigterm"}},
		{BackendFile, timingMid, []string{"kill-9", "sigterm"}},
		{BackendFile, timingDefault, []string{"kill-9", "sigterm"}},
	}
}

func chaosReps(t *testing.T) int {
	v := os.Getenv("LBHC_CHAOS_REPS")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		t.Fatalf("LBHC_CHAOS_REPS=%q: want 1..100", v)
	}
	return n
}

// TestChaos runs the fault scenarios behind HAProxy.
func TestChaos(t *testing.T) {
	configs := ciConfigs()
	if os.Getenv("LBHC_CHAOS_FULL") == "1" {
		configs = fullConfigs()
	}
	reps := chaosReps(t)
	timelineDone := false
	for _, cfg := range configs {
		name := cfg.backend + "/" + strings.NewReplacer("/", "-").Replace(cfg.timing.String())
		t.Run(name, func(t *testing.T) {
			c := NewCluster(t, cfg.backend, cfg.timing)
			for _, sname := range cfg.scenarios {
				sc := scenarioByName(t, sname)
				if sc.networked && !c.Backend.Networked() {
					continue
				}
				for rep := range reps {
					t.Run(fmt.Sprintf("%s#%d", sname, rep+1), func(t *testing.T) {
						c.t = t
						r, w := c.RunScenario(sc)
						if !timelineDone && cfg.backend == BackendFile && sname == "kill-9" {
							if dir := os.Getenv("LBHC_CHAOS_TIMELINE"); dir != "" {
								if err := WriteTimeline(dir, w, c.hostNames()); err != nil {
									t.Errorf("timeline: %v", err)
								}
								timelineDone = true
							}
						}
						_ = r
					})
					if t.Failed() {
						return // the cluster may be in any state
					}
				}
			}
		})
	}
}

func scenarioByName(t *testing.T, name string) scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no scenario %q", name)
	return scenario{}
}

// RunScenario injects sc into the settled cluster, measures, asserts the
// safety rules, restores the cluster and waits until it is settled again.
func (c *Cluster) RunScenario(sc scenario) (Result, Window) {
	t := c.t
	t.Helper()
	tm := c.Timing
	old := c.WaitStable("", false, tm.CrashBound()+20*time.Second)
	fault := time.Now()
	sc.inject(c, old)
	// Bounded: the slowest scenario (backend down, then a CAS backend's
	// takeover after a full TTL) settles well within 3 TTLs + 30 s.
	cur := c.WaitStable(old.Host.Name, sc.moves, 3*tm.TTL+30*time.Second)
	end := time.Now()
	w := c.Window(fault, end, old.Host.Name, cur.Host.Name)
	r := Analyse(w)
	r.Scenario, r.Backend, r.Timing, r.Peer, r.Harness = sc.name, c.Backend.Kind, tm.String(), "lbhc", "lb"
	t.Log(r.String())
	if err := recordResult(r); err != nil {
		t.Errorf("record result: %v", err)
	}
	if r.ProbeDouble > 0 {
		t.Errorf("%s: %d probe rounds with two nodes answering\n%s", sc.name, r.ProbeDouble, c.Probe.Timeline())
	}
	if r.ClientAlternations > 0 {
		t.Errorf("%s: the client alternated between nodes %d times\n%s", sc.name, r.ClientAlternations, clientTimeline(w))
	}
	if sc.crash {
		if bound := tm.CrashBound(); r.FailoverMS < 0 || r.FailoverMS > ms(bound) {
			t.Errorf("%s: client reached the new leader %s after %.0f ms, want <= %s (ttl %s + retry %s + LB %s + 0.5 s)\n%s\n%s",
				sc.name, r.New, r.FailoverMS, bound, tm.TTL, tm.Retry, lbDetectUp, c.Probe.Timeline(), clientTimeline(w))
		}
	}
	if os.Getenv("LBHC_CHAOS_VERBOSE") == "1" {
		for _, n := range c.Nodes {
			t.Logf("---- log of %s ----\n%s", n.Host.Name, tail(n.Log(), 25))
		}
	}
	if sc.restore != nil {
		sc.restore(c, old)
	}
	c.WaitStable("", false, 3*tm.TTL+30*time.Second)
	return r, w
}

// clientTimeline renders the client's answer changes in w.
func clientTimeline(w Window) string {
	var b strings.Builder
	last := "?"
	for _, s := range w.Client {
		if s.At.Before(w.Fault.Add(-time.Second)) || s.At.After(w.End) {
			continue
		}
		cur := s.Who
		if cur == "" {
			cur = "error: " + s.Err
		}
		if cur != last {
			fmt.Fprintf(&b, "%+8.3fs %s\n", s.At.Sub(w.Fault).Seconds(), cur)
			last = cur
		}
	}
	return b.String()
}
