//go:build linux

package e2e

import (
	"cmp"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbhc/lbhc/itest"
)

// Timing is one lease timing setting of the nodes.
type Timing struct{ TTL, Renew, Retry time.Duration }

// Args are the lbhc flags for t.
func (tm Timing) Args() []string {
	return []string{"--lease-ttl", tm.TTL.String(), "--renew-deadline", tm.Renew.String(), "--retry-period", tm.Retry.String()}
}

// String is "ttl/renew/retry", e.g. "3s/2s/500ms".
func (tm Timing) String() string {
	return tm.TTL.String() + "/" + tm.Renew.String() + "/" + tm.Retry.String()
}

// The timing settings of the suite: the fast one every backend that allows
// it runs in CI; the others only in the benchmark; lbhc's defaults are the
// Azure native lease's minimum.
var (
	timingFast    = Timing{3 * time.Second, 2 * time.Second, 500 * time.Millisecond}
	timingMid     = Timing{6 * time.Second, 4 * time.Second, time.Second}
	timingDefault = Timing{15 * time.Second, 10 * time.Second, 2 * time.Second}
)

// lbDetectUp is how long HAProxy takes to route to a node whose probe just
// opened: rise checks, inter apart.
const lbDetectUp = lbRise * lbInter

// CrashBound is the bound on crash failover as the client sees it:
// lease-ttl + retry-period + LB detection + 0.5 s.
func (tm Timing) CrashBound() time.Duration {
	return tm.TTL + tm.Retry + lbDetectUp + 500*time.Millisecond
}

// nodeCheckArgs make every node check its own application, so a leader
// whose application dies demotes (checks every 200 ms, down after 2 fails).
var nodeCheckArgs = []string{"--check", fmt.Sprintf("tcp://127.0.0.1:%d", appPort),
	"--check-interval", "200ms", "--check-fall", "2", "--check-rise", "2", "--check-timeout", "150ms"}

// Cluster is three lbhc nodes with their applications behind HAProxy, one
// lease backend, and the three samplers: probe ports, HAProxy's server
// states and a client through HAProxy.
type Cluster struct {
	t       *testing.T
	Net     *Net
	Timing  Timing
	Backend *Backend
	Nodes   []*Node
	Apps    map[string]*App
	LB      *HAProxy
	Probe   *Sampler
	LBState *LBSampler
	Client  *Client

	undo func() // reverts the current scenario's network fault
}

// Sampling: every 20 ms (probe, LB) and 15 ms (client); the limits bound a
// cluster's life to about 20 minutes.
const (
	probeEvery  = 20 * time.Millisecond
	clientEvery = 15 * time.Millisecond
	sampleLimit = 60000
)

// NewCluster builds the whole setup for one backend and timing and waits
// until one node leads and the client reaches it.
func NewCluster(t *testing.T, kind string, tm Timing) *Cluster {
	t.Helper()
	return NewClusterWith(t, kind, tm, ClusterOpts{})
}

// ClusterOpts change NewCluster's setup; zero values keep its defaults.
type ClusterOpts struct {
	// Extra lbhc flags for every node; it gets the topology (addresses
	// are known only once it exists).
	Extra func(n *Net) []string
	// ClientTimeout: a request not answered within it failed (300 ms).
	ClientTimeout time.Duration
	// CheckTimeout and Fall: HAProxy's check timeout (lbInter) and the
	// failed checks that take a server DOWN (lbFall).
	CheckTimeout time.Duration
	Fall         int
}

// NewClusterWith is NewCluster with o's changes.
func NewClusterWith(t *testing.T, kind string, tm Timing, o ClusterOpts) *Cluster {
	t.Helper()
	if strings.HasPrefix(kind, "azblob") {
		requireBackendBuilt(t, "azblob")
	}
	n := NewNet(t, "n1", "n2", "n3", "lb")
	hosts := n.Hosts[:3]
	hubDial := dialer(t, n.Hub)
	c := &Cluster{t: t, Net: n, Timing: tm, Apps: map[string]*App{}}
	c.Backend = StartBackend(t, n, hubDial, kind)
	for _, h := range hosts {
		c.Apps[h.Name] = StartApp(t, h, appPort)
	}
	args := append(append(append([]string{}, c.Backend.Args...), tm.Args()...), nodeCheckArgs...)
	if o.Extra != nil {
		args = append(args, o.Extra(n)...)
	}
	o.ClientTimeout = cmp.Or(o.ClientTimeout, 300*time.Millisecond)
	o.CheckTimeout, o.Fall = cmp.Or(o.CheckTimeout, lbInter), cmp.Or(o.Fall, lbFall)
	for _, h := range hosts {
		c.Nodes = append(c.Nodes, StartNode(t, h, args...))
	}
	c.LB = StartHAProxyChecks(t, hubDial, n.Host("lb"), hosts, 26001, o.CheckTimeout, o.Fall)
	c.Probe = StartSampler(t, n, 26001, hosts, probeEvery, sampleLimit)
	c.LBState = StartLBSampler(t, c.LB, probeEvery, sampleLimit)
	c.Client = StartClient(t, dialer(t, n.Hub), fmt.Sprintf("http://%s:%d/", c.LB.IP, lbPort), clientEvery, o.ClientTimeout, sampleLimit)
	c.WaitStable("", false, tm.TTL+tm.Retry+30*time.Second)
	return c
}

// builtBackends caches which --election values the test binary's lbhc has.
var builtBackends struct {
	once sync.Once
	help string
}

// requireBackendBuilt skips (fails in CI) when lbhc lacks an election backend.
func requireBackendBuilt(t *testing.T, name string) {
	t.Helper()
	builtBackends.once.Do(func() {
		out, _ := exec.Command(lbhcBin, "run", "--help").CombinedOutput()
		builtBackends.help = string(out)
	})
	for _, line := range strings.Split(builtBackends.help, "\n") {
		if strings.Contains(line, "--election value") {
			if !strings.Contains(line, name) {
				itest.Require(t, fmt.Sprintf("this lbhc build has no --election %s (%s): build lbhc with it and rerun", name, strings.TrimSpace(line)))
			}
			return
		}
	}
}

// Node returns the lbhc node of the given name.
func (c *Cluster) Node(name string) *Node { return nodeByName(c.Nodes, name) }

// stableFor: leadership counts as settled when one node answered every probe
// round for this long, HAProxy routes to it alone, and the client's last
// answers came from it.
const stableFor = time.Second

// WaitStable waits until leadership is settled on a node (other than
// exclude when mustMove) and returns that node; it fails the test after d.
func (c *Cluster) WaitStable(exclude string, mustMove bool, d time.Duration) *Node {
	c.t.Helper()
	end := time.Now().Add(d)
	var who string
	var since time.Time
	for time.Now().Before(end) {
		cur := c.Probe.Current()
		switch {
		case len(cur) != 1 || (mustMove && cur[0] == exclude):
			who = ""
		case cur[0] != who:
			who, since = cur[0], time.Now()
		case time.Since(since) >= stableFor && c.routedTo(who):
			return c.Node(who)
		}
		time.Sleep(probeEvery)
	}
	c.t.Fatalf("leadership did not settle within %s (probe: %v)\n%s", d, c.Probe.Current(), c.Probe.Timeline())
	return nil
}

// routedTo reports whether HAProxy routes to who alone and the client's last
// three answers came from who.
func (c *Cluster) routedTo(who string) bool {
	lb := c.LBState.Samples()
	if len(lb) == 0 || strings.Join(lb[len(lb)-1].Up, ",") != who {
		return false
	}
	cl := c.Client.Samples()
	if len(cl) < 3 {
		return false
	}
	for _, s := range cl[len(cl)-3:] {
		if s.Who != who {
			return false
		}
	}
	return true
}

// Window returns the samples of [fault, end] (and the client's before it).
func (c *Cluster) Window(fault, end time.Time, old, new string) Window {
	return Window{Fault: fault, End: end, Old: old, New: new,
		Probe: c.Probe.Samples(), LB: c.LBState.Samples(), Client: c.Client.Samples()}
}

// hostNames are the node names in lane order for timelines.
func (c *Cluster) hostNames() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Host.Name)
	}
	return out
}
