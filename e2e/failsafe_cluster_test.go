//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// fsGroup is one backend of the failsafe suite with its timing and promise.
type fsGroup struct {
	kind    string
	timing  Timing
	promise time.Duration // --failsafe-promise
}

// failsafeGroups: every backend of the suite. The Azure native lease needs
// lease-ttl >= 15 s; the others run the fast timing. A promise must outlast
// two retry periods plus its margin (--failsafe-promise validation).
var failsafeGroups = []fsGroup{
	{BackendEtcd, timingFast, 4 * time.Second},
	{BackendDynamoDB, timingFast, 4 * time.Second},
	{BackendAzureRecord, timingFast, 4 * time.Second},
	{BackendAzureNative, timingDefault, 6 * time.Second},
	{BackendFile, timingFast, 4 * time.Second},
}

// fsClientTimeout: a request fails when not answered within 2 s. An outage
// shows at once (HAProxy answers 503 with no server UP, or the connection
// is refused), so a long timeout hides none; a short one would count a
// loaded test machine (the page and the client live in the test process)
// as failures.
const fsClientTimeout = 2 * time.Second

// fsCheckTimeout and fsFall: HAProxy waits 500 ms for a probe answer and
// takes a server DOWN after 3 failed checks. The suite's 100 ms and 2 took
// a leader that never stopped leading out of the pool when the shared test
// machine starved its process for 200 ms (load 8 on 2 cores). A closed
// probe (the outage, a kill) is refused at once, so DOWN still comes in
// 3 checks, before a new server's 4 rises.
const (
	fsCheckTimeout = 500 * time.Millisecond
	fsFall         = 3
)

// fsCluster is a Cluster whose nodes know each other over the peer channel.
type fsCluster struct {
	*Cluster
	g     fsGroup
	key   []byte
	admin map[string]*http.Client // per node, in its namespace
	t0    time.Time               // group start, for phase timings
}

// newFSCluster starts the group with the peer channel but without
// --failsafe (the control run comes first).
func newFSCluster(t *testing.T, g fsGroup) *fsCluster {
	keyFile, key := writeKeyFile(t)
	start := time.Now()
	c := NewClusterWith(t, g.kind, g.timing, ClusterOpts{ClientTimeout: fsClientTimeout, CheckTimeout: fsCheckTimeout, Fall: fsFall, Extra: func(n *Net) []string {
		args := []string{"--peer-key-file", keyFile}
		for _, h := range n.Hosts {
			if h.Name != "lb" {
				args = append(args, "--peer", fmt.Sprintf("%s=%s:%d", h.Name, h.IP, peerPort))
			}
		}
		return args
	}})
	fc := &fsCluster{Cluster: c, g: g, key: key, admin: map[string]*http.Client{}, t0: start}
	for _, n := range c.Nodes {
		fc.admin[n.Host.Name] = nsHTTP(t, n.Host.NS)
	}
	fc.logf("group %s (%s, promise %s) settled", g.kind, g.timing, g.promise)
	return fc
}

// logf logs with the time since the group started.
func (c *fsCluster) logf(format string, args ...any) {
	c.t.Helper()
	c.t.Logf("[+%6.1fs] %s", time.Since(c.t0).Seconds(), fmt.Sprintf(format, args...))
}

// restartWith stops every node (SIGTERM), adds extra to its flags and starts
// it again, then waits until one leads.
func (c *fsCluster) restartWith(extra ...string) {
	t := c.t
	t.Helper()
	for _, n := range c.Nodes {
		n.Signal(syscall.SIGTERM)
	}
	for _, n := range c.Nodes {
		if !n.Wait(c.Timing.Renew + 5*time.Second) {
			t.Fatalf("%s did not exit after SIGTERM", n.Host.Name)
		}
		if n.ExitCode() == 2 {
			t.Fatalf("%s exited 2 (bad flags):\n%s", n.Host.Name, tail(n.Log(), 5))
		}
	}
	for _, n := range c.Nodes {
		n.args = append(slices.Clone(n.args), extra...)
		n.Start()
	}
	time.Sleep(time.Second)
	for _, n := range c.Nodes {
		if n.Wait(10 * time.Millisecond) {
			t.Fatalf("%s exited at start (status %d):\n%s", n.Host.Name, n.ExitCode(), tail(n.Log(), 5))
		}
	}
	c.WaitStable("", false, 3*c.Timing.TTL+30*time.Second)
}

// failsafeArgs turn failsafe on with the group's promise.
func (c *fsCluster) failsafeArgs() []string {
	return []string{"--failsafe", "--failsafe-promise", c.g.promise.String()}
}

// fsStatus is the part of /status the failsafe scenarios read.
type fsStatus struct {
	Role     string `json:"role"`
	Term     uint64 `json:"term"`
	Failsafe *struct {
		Active     bool  `json:"active"`
		ValidForMS int64 `json:"valid_for_ms"`
		Given      []struct {
			Leader string `json:"leader"`
			Term   uint64 `json:"term"`
			LeftMS int64  `json:"left_ms"`
		} `json:"given"`
	} `json:"failsafe"`
}

// status reads n's /status from its admin API (in its namespace): a few
// milliseconds, where forking lbhc status under load can take hundreds, so
// a promise's "left" read here dates its end closely.
func (c *fsCluster) status(n *Node) (fsStatus, error) {
	var s fsStatus
	resp, err := c.admin[n.Host.Name].Get("http://127.0.0.1:9102/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/status of %s: %s", n.Host.Name, resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// givenTo is how long n's promise to leader has left (ms), -1 when none.
func (s fsStatus) givenTo(leader string) int64 {
	if s.Failsafe == nil {
		return -1
	}
	for _, g := range s.Failsafe.Given {
		if g.Leader == leader {
			return g.LeftMS
		}
	}
	return -1
}

// failsafeActive is n's lbhc_failsafe_active (false when unreadable).
func (c *fsCluster) failsafeActive(n *Node) bool {
	m, err := scrape(c.admin[n.Host.Name], "lbhc_failsafe_active")
	return err == nil && m["lbhc_failsafe_active"] == 1
}

// waitFor polls cond every 50 ms for at most d and reports when it held.
func waitFor(d time.Duration, cond func() bool) (time.Time, bool) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return time.Now(), true
		}
	}
	return time.Time{}, false
}

// others are the nodes other than n.
func (c *fsCluster) others(n *Node) []*Node {
	var out []*Node
	for _, x := range c.Nodes {
		if x != n {
			out = append(out, x)
		}
	}
	return out
}

// answeredBy returns the sampling rounds in [from, to] that any node of
// names answered.
func (c *fsCluster) answeredBy(from, to time.Time, names ...string) []Sample {
	var out []Sample
	for _, s := range c.Probe.Samples() {
		if s.At.Before(from) || s.At.After(to) {
			continue
		}
		for _, who := range s.Answered {
			if slices.Contains(names, who) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// lbEmpty is how many HAProxy samples in [from, to] had no server UP.
func (c *fsCluster) lbEmpty(from, to time.Time) int {
	n := 0
	for _, s := range c.LBState.Samples() {
		if !s.At.Before(from) && !s.At.After(to) && len(s.Up) == 0 {
			n++
		}
	}
	return n
}

// outage is the failsafe outage length: 60 s (issue 16), or
// LBHC_FAILSAFE_OUTAGE for a quicker local iteration.
func outage(t *testing.T) time.Duration {
	if v := os.Getenv("LBHC_FAILSAFE_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("LBHC_FAILSAFE_OUTAGE=%q: want a duration >= 10s", v)
		}
		return d
	}
	return 60 * time.Second
}
