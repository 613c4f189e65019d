//go:build linux

package e2e

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

// noticePoll is the platform-notice poll interval of these tests.
const noticePoll = 250 * time.Millisecond

// plannedBound is the client-visible bound of a handover a platform notice
// starts: the poll that sees it, one retry period for a follower to take
// the released lease, the load balancer's detection, 0.5 s.
func plannedBound(tm Timing) time.Duration {
	return noticePoll + tm.Retry + lbDetectUp + 500*time.Millisecond
}

// serveInHub makes a loopback test server (a cloudtest fake) reachable from
// the host namespaces at the hub address and the given port.
func serveInHub(t *testing.T, n *Net, fakeURL string, port int) string {
	t.Helper()
	listen := fmt.Sprintf("%s:%d", n.HubIP(), port)
	StartDelayProxy(t, n.Hub, listen, strings.TrimPrefix(fakeURL, "http://"),
		func(addr string, d time.Duration) (net.Conn, error) { return net.DialTimeout("tcp", addr, d) })
	return "http://" + listen
}

// newNoticeCluster is NewCluster (file lease) with per-node extra flags.
func newNoticeCluster(t *testing.T, tm Timing, extra func(i int, h *Host, n *Net) []string) *Cluster {
	t.Helper()
	n := NewNet(t, "n1", "n2", "n3", "lb")
	hosts := n.Hosts[:3]
	hubDial := dialer(t, n.Hub)
	c := &Cluster{t: t, Net: n, Timing: tm, Apps: map[string]*App{}}
	c.Backend = StartBackend(t, n, hubDial, BackendFile)
	for _, h := range hosts {
		c.Apps[h.Name] = StartApp(t, h, appPort)
	}
	for i, h := range hosts {
		args := append(append(append([]string{}, c.Backend.Args...), tm.Args()...), nodeCheckArgs...)
		c.Nodes = append(c.Nodes, StartNode(t, h, append(args, extra(i, h, n)...)...))
	}
	c.LB = StartHAProxy(t, hubDial, n.Host("lb"), hosts, 26001)
	c.Probe = StartSampler(t, n, 26001, hosts, probeEvery, sampleLimit)
	c.LBState = StartLBSampler(t, c.LB, probeEvery, sampleLimit)
	c.Client = StartClient(t, dialer(t, n.Hub), fmt.Sprintf("http://%s:%d/", c.LB.IP, lbPort), clientEvery, 300*time.Millisecond, sampleLimit)
	c.WaitStable("", false, tm.TTL+tm.Retry+30*time.Second)
	return c
}

func nodeIndex(c *Cluster, n *Node) int { return slices.Index(c.Nodes, n) }

func waitStatus(t *testing.T, n *Node, d time.Duration, what string, ok func(agent.Status) bool) agent.Status {
	t.Helper()
	end := time.Now().Add(d)
	var st agent.Status
	var err error
	for time.Now().Before(end) {
		if st, err = n.Status(); err == nil && ok(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not %s within %s (last status %+v, err %v)", n.Host.Name, what, d, st, err)
	return st
}

// checkPlannedHandover measures a handover started at fault and asserts
// the planned bound and the safety rules.
func checkPlannedHandover(t *testing.T, c *Cluster, old *Node, fault time.Time, what string) *Node {
	t.Helper()
	cur := c.WaitStable(old.Host.Name, true, 3*c.Timing.TTL+30*time.Second)
	w := c.Window(fault, time.Now(), old.Host.Name, cur.Host.Name)
	r := Analyse(w)
	r.Scenario, r.Backend, r.Timing, r.Peer, r.Harness = what, c.Backend.Kind, c.Timing.String(), "lbhc", "lb"
	t.Log(r.String())
	bound := plannedBound(c.Timing)
	if r.FailoverMS < 0 || r.FailoverMS > ms(bound) || r.OutageMS > ms(bound) {
		t.Errorf("%s: client reached %s after %.0f ms (outage %.0f ms), want <= %s (crash bound %s)\n%s\n%s",
			what, r.New, r.FailoverMS, r.OutageMS, bound, c.Timing.CrashBound(), c.Probe.Timeline(), clientTimeline(w))
	}
	if r.ProbeDouble > 0 || r.ClientAlternations > 0 {
		t.Errorf("%s: %d probe rounds with two answering, %d client alternations\n%s", what, r.ProbeDouble, r.ClientAlternations, c.Probe.Timeline())
	}
	return cur
}

// TestAzureScheduledEvents: a Freeze for the leader's VM moves leadership
// within the planned bound and is acknowledged exactly once, after the
// successor leads; an event for another VM changes nothing; a follower
// with an event stands by and comes back when it is gone.
func TestAzureScheduledEvents(t *testing.T) {
	var fakes []*cloudtest.AzureIMDS
	c := newNoticeCluster(t, timingFast, func(i int, h *Host, n *Net) []string {
		f := cloudtest.NewAzureIMDS(cloudtest.AzureInstanceData{Name: "vm-" + h.Name, SubscriptionID: "sub", ResourceGroup: "rg",
			Location: "westeurope", PrivateIPs: []string{h.IP}})
		t.Cleanup(f.Close)
		fakes = append(fakes, f)
		return []string{"--azure-scheduled-events", "--azure-scheduled-events-interval", noticePoll.String(),
			"--azure-imds-endpoint", serveInHub(t, n, f.URL(), 18000+i)}
	})
	old := c.WaitStable("", false, 30*time.Second)
	of := fakes[nodeIndex(c, old)]

	// Another VM of the availability set is to be rebooted: nothing moves.
	of.AddEvent(cloudtest.NewAzureEvent("other-vm", "Reboot", 15*time.Minute, "vm-elsewhere"))
	time.Sleep(10 * noticePoll)
	if cur := c.WaitStable("", false, 5*time.Second); cur != old {
		t.Fatalf("an event for another VM moved leadership from %s to %s", old.Host.Name, cur.Host.Name)
	}
	if st, _ := old.Status(); st.Role != agent.RoleLeader || st.Platform == nil || st.Platform.LastAction != "" {
		t.Fatalf("leader status after an event for another VM: %+v", st.Platform)
	}

	fault := time.Now()
	of.AddEvent(cloudtest.NewAzureEvent("freeze-1", "Freeze", 15*time.Minute, "vm-"+old.Host.Name))
	cur := checkPlannedHandover(t, c, old, fault, "azure-freeze")
	end := time.Now().Add(5 * time.Second)
	for len(of.Acks()) == 0 && time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // a second acknowledgement would arrive now
	if got := of.Acks(); !slices.Equal(got, []string{"freeze-1"}) {
		t.Fatalf("acknowledgements %v, want exactly [freeze-1]", got)
	}
	cst, err := cur.Status()
	if err != nil || cst.Role != agent.RoleLeader {
		t.Fatalf("successor %s: %+v %v", cur.Host.Name, cst, err)
	}
	// Successor leads (lease) shortly before its role change is recorded;
	// the acknowledgement follows the lease, 50 ms covers that gap.
	if ackAt := of.AckTimes()[0]; ackAt.Before(cst.LastChange.Add(-50 * time.Millisecond)) {
		t.Fatalf("acknowledged at %s, before %s led (%s)", ackAt.Format("15:04:05.000"), cur.Host.Name, cst.LastChange.Format("15:04:05.000"))
	}
	for i, f := range fakes {
		if f != of && len(f.Acks()) != 0 {
			t.Fatalf("node %d acknowledged %v", i, f.Acks())
		}
	}
	st := waitStatus(t, old, 2*time.Second, "standby", func(s agent.Status) bool { return s.Role == agent.RoleStandby })
	if st.Platform == nil || !st.Platform.Hold || st.Platform.LastNotice == nil || st.Platform.LastNotice.Type != "Freeze" ||
		st.Platform.LastAction != "switchover" {
		t.Fatalf("old leader's platform status %+v", st.Platform)
	}
	of.RemoveEvent("freeze-1")
	waitStatus(t, old, 3*time.Second, "a campaigning follower", func(s agent.Status) bool {
		return s.Role == agent.RoleFollower && s.Campaigning
	})

	// A follower with an event stands by at once, acknowledges, and comes
	// back when the event is gone; the leader is not disturbed.
	var fol *Node
	for _, n := range c.Nodes {
		if n != cur && n != old {
			fol = n
		}
	}
	ff := fakes[nodeIndex(c, fol)]
	ff.AddEvent(cloudtest.NewAzureEvent("reboot-2", "Reboot", 15*time.Minute, "vm-"+fol.Host.Name))
	waitStatus(t, fol, 3*time.Second, "standby", func(s agent.Status) bool { return s.Role == agent.RoleStandby && !s.Campaigning })
	end = time.Now().Add(3 * time.Second)
	for len(ff.Acks()) == 0 && time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := ff.Acks(); !slices.Equal(got, []string{"reboot-2"}) {
		t.Fatalf("follower acknowledgements %v", got)
	}
	ff.RemoveEvent("reboot-2")
	waitStatus(t, fol, 3*time.Second, "a campaigning follower", func(s agent.Status) bool {
		return s.Role == agent.RoleFollower && s.Campaigning
	})
	if now := c.WaitStable("", false, 5*time.Second); now != cur {
		t.Fatalf("leadership moved to %s while only a follower had an event", now.Host.Name)
	}
	if d := c.Probe.DoubleAnswers(); len(d) > 0 {
		t.Fatalf("two nodes answered at %s\n%s", d[0].At.Format("15:04:05.000"), c.Probe.Timeline())
	}
}

// TestAWSSpotNotice: a spot interruption notice for the leader moves
// leadership within the planned bound (AWS has no acknowledgement).
func TestAWSSpotNotice(t *testing.T) {
	var fakes []*cloudtest.AWSIMDS
	c := newNoticeCluster(t, timingFast, func(i int, h *Host, n *Net) []string {
		f := cloudtest.NewAWSIMDS(cloudtest.AWSInstanceData{InstanceID: "i-" + h.Name, MAC: fmt.Sprintf("0a:00:00:00:00:%02x", i+1),
			PrivateIP: h.IP, Region: "eu-west-1", AZ: "eu-west-1a"})
		t.Cleanup(f.Close)
		fakes = append(fakes, f)
		return []string{"--aws-instance-events", "--aws-instance-events-interval", noticePoll.String(),
			"--aws-imds-endpoint", serveInHub(t, n, f.URL(), 18100+i)}
	})
	old := c.WaitStable("", false, 30*time.Second)
	fault := time.Now()
	fakes[nodeIndex(c, old)].SetSpotInstanceAction("terminate", time.Now().Add(2*time.Minute))
	checkPlannedHandover(t, c, old, fault, "aws-spot")
	st := waitStatus(t, old, 2*time.Second, "standby", func(s agent.Status) bool { return s.Role == agent.RoleStandby })
	if st.Platform == nil || st.Platform.LastNotice == nil || st.Platform.LastNotice.Source != "aws-spot" ||
		st.Platform.LastNotice.Type != "terminate" || len(st.Platform.Acknowledged) != 0 {
		t.Fatalf("old leader's platform status %+v", st.Platform)
	}
}
