// The summary's arithmetic and text: medians and maxima per scenario, and
// the Markdown tables and findings written to BENCHMARKS.md.

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// stats are median and max of the non-negative values (-1 = not applicable).
type stats struct {
	n           int
	median, max float64
}

func summarise(xs []float64) stats {
	var v []float64
	for _, x := range xs {
		if x >= 0 {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return stats{}
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stats{len(v), m, v[len(v)-1]}
}

func (s stats) String() string {
	if s.n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f / %.0f", s.median, s.max)
}

// group collects the runs of one (peer, scenario, backend, timing).
type group struct {
	key  [4]string
	runs []result
}

func groups(rs []result) []*group {
	var out []*group
	idx := map[[4]string]*group{}
	for _, r := range rs {
		k := [4]string{r.Peer, r.Scenario, r.Backend, r.Timing}
		g := idx[k]
		if g == nil {
			g = &group{key: k}
			idx[k] = g
			out = append(out, g)
		}
		g.runs = append(g.runs, r)
	}
	return out
}

func field(runs []result, f func(result) float64) stats {
	var xs []float64
	for _, r := range runs {
		xs = append(xs, f(r))
	}
	return summarise(xs)
}

func render(rs []result, cmd, env string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n", beginMarker)
	p("## Failover under faults\n\n")
	p("Reproduce: `%s` (as root; it runs `go test ./e2e/ -run 'TestChaos|TestKeepalivedComparison'` with\n", cmd)
	p("`LBHC_CHAOS_FULL=1`, then this table's generator `go run ./scripts/bench/failoversum`).\n")
	if env != "" {
		p("Measured: %s.\n", env)
	}
	p(`
Three lbhc nodes in network namespaces on a bridge, each with a test page; HAProxy in its own namespace
checks every node's probe port (tcp-check expecting the probe message, inter 100 ms, fall 2, rise 4)
and forwards a client's requests (one new connection every 15 ms, 300 ms timeout) to the test pages.
A sampler connects to every node's probe port every 20 ms. Lease servers (etcd, dynalite, Azurite) run
in the hub namespace behind a delaying TCP proxy. Times in ms, median / max over the runs:

- **failover**: fault → first client answer from the new leader (– when leadership is not meant to move);
- **outage**: first failed or foreign answer the client saw → first answer from the new leader;
- **failed req.**: client requests that failed in the run (median / max);
- **split-brain**: sampling rounds with two nodes answering the probe plus A→B→A client alternations
  within 1 s, summed over all runs — must be 0, and the test fails otherwise.

`)
	p("| scenario | backend | timing ttl/renew/retry | runs | failover | outage | failed req. | split-brain |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	var vip []*group
	for _, g := range groups(rs) {
		if g.runs[0].Harness == "vip" {
			vip = append(vip, g)
			continue
		}
		split := 0
		for _, r := range g.runs {
			split += r.ProbeDouble + r.ClientAlternations
		}
		p("| %s | %s | %s | %d | %s | %s | %s | %d |\n", g.key[1], g.key[2], g.key[3], len(g.runs),
			field(g.runs, func(r result) float64 { return r.FailoverMS }),
			field(g.runs, func(r result) float64 { return r.OutageMS }),
			field(g.runs, func(r result) float64 { return float64(r.ClientErrors) }),
			split)
	}
	p(`
Scenarios: kill-9 (leader process killed), host-cut (leader's link down), sigstop (leader frozen past
the TTL, then continued), backend-unreachable-leader (blackhole route to the lease server in the leader's
namespace only), backend-down-all (lease server stopped for TTL + 1 s, then started; nobody may answer
after the renew deadline), backend-slow (100 ms each way on every lease exchange for 2 TTLs),
backend-very-slow (250 ms each way, a 500 ms round trip, for 2 TTLs), sigterm (graceful stop), switchover (` + "`lbhc switchover`" + `), rolling-restart (each node
stopped and started in turn, leader last; failover/outage cover the whole roll), app-failure (the
leader's test page stopped; ` + "`--check tcp://127.0.0.1:8080`" + ` every 200 ms, fall 2).
Crash failover is asserted ≤ lease-ttl + retry-period + LB detection (rise × inter = 400 ms) + 0.5 s.
`)
	renderFindings(p, rs)
	renderTimings(p, groups(rs))
	if len(vip) > 0 {
		renderVIP(p, vip)
	}
	p("%s\n", endMarker)
	return b.String()
}

func renderVIP(p func(string, ...any), gs []*group) {
	by := map[string]map[string][]result{} // scenario -> peer -> runs
	var order []string
	for _, g := range gs {
		if by[g.key[1]] == nil {
			by[g.key[1]] = map[string][]result{}
			order = append(order, g.key[1])
		}
		by[g.key[1]][g.key[0]] = append(by[g.key[1]][g.key[0]], g.runs...)
	}
	p(`
## lbhc vs keepalived

Same run, same harness, no load balancer: a VIP (` + "`--vip 10.77.S.100 --vip-interface eth0`" + ` for lbhc,
` + "`virtual_ipaddress`" + ` for keepalived) on three namespaces, the client requesting the test page through
the VIP every 15 ms. keepalived 2.2: VRRP unicast, ` + "`advert_int 1`" + `, all BACKUP with ` + "`nopreempt`" + `,
priorities 100/99/98. lbhc: etcd lease at **lease-ttl 4 s / renew-deadline 3 s / retry-period 1 s**, chosen
for equal or better safety: a backup keepalived takes over after master_down_interval ≈ 3.6 s of
silence and its old master never stands down while partitioned; lbhc waits for a 4 s lease to expire
and its old leader fences itself (drops the VIP) at 3 s, before any takeover.
Faults: kill-9 of the VIP owner's daemon; host-cut (its link down: carrier lost); partition (its bridge
port detached: carrier kept). Failover = fault → first answer from another node, ms, median / max.

| scenario | runs | keepalived failover | lbhc failover | ratio lbhc / keepalived (medians) | VIP on two hosts, ms (median keepalived / lbhc) | when the node returned: VIP moved again / unreachable for 20 s (keepalived; lbhc) |
|---|---|---|---|---|---|---|
`)
	for _, sc := range order {
		k, l := by[sc]["keepalived"], by[sc]["lbhc"]
		kf := field(k, func(r result) float64 { return r.FailoverMS })
		lf := field(l, func(r result) float64 { return r.FailoverMS })
		ratio := "–"
		if kf.n > 0 && lf.n > 0 && kf.median > 0 {
			ratio = fmt.Sprintf("%.2f", lf.median/kf.median)
		}
		ko := field(k, func(r result) float64 { return r.LBOverlapMS })
		lo := field(l, func(r result) float64 { return r.LBOverlapMS })
		p("| %s | %d / %d | %s | %s | %s | %.0f / %.0f | %d / %d of %d; %d / %d of %d |\n", sc, len(k), len(l), kf, lf, ratio,
			ko.median, lo.median, count(k, moved), count(k, unsettled), len(k), count(l, moved), count(l, unsettled), len(l))
	}
	p(`
"Unreachable for 20 s": no single VIP owner answered the client for 20 s after the node came back;
the test then restarted the group (flushing the VIP and the client's neighbour entry) to go on.
"VIP on two hosts" is measured from the fault until the group settled after the node's return, so its
size is set by how long the test leaves the fault in place (about 1 s after the takeover): what matters
is whether it is 0. After kill -9 both daemons leave the VIP on the dead node's interface (lbhc removes
it when it starts again; for keepalived the test removes it), and the client keeps reaching the old
node's page until the new owner's gratuitous ARP. In a partition the keepalived master keeps the VIP
(no carrier change, no fencing), and when the partition heals the VRRP masters meet and the higher
priority one — the old master — takes the VIP back: a second move. lbhc's partitioned leader drops the
VIP at its renew deadline, before the lease can be granted to another node.
`)
}

func moved(r result) bool     { return r.HealMoved }
func unsettled(r result) bool { return r.HealUnsettled }

func count(rs []result, f func(result) bool) int {
	n := 0
	for _, r := range rs {
		if f(r) {
			n++
		}
	}
	return n
}

// renderTimings is the failover time, crash and graceful, at several timing
// settings: the file lease's kill-9 and sigterm rows by timing.
func renderTimings(p func(string, ...any), gs []*group) {
	var rows []*group
	for _, g := range gs {
		if g.runs[0].Harness == "lb" && g.key[2] == "file" && (g.key[1] == "kill-9" || g.key[1] == "sigterm") {
			rows = append(rows, g)
		}
	}
	if len(rows) == 0 {
		return
	}
	slices.SortStableFunc(rows, func(a, b *group) int { return strings.Compare(a.key[1], b.key[1]) })
	p(`
### Crash and graceful failover at several timings (file lease, behind HAProxy)

| scenario | timing ttl/renew/retry | runs | failover (client) | outage | bound asserted for kill -9 |
|---|---|---|---|---|---|
`)
	for _, g := range rows {
		bound := "–"
		if g.key[1] == "kill-9" {
			bound = "ttl + retry + 0.9 s"
		}
		p("| %s | %s | %d | %s | %s | %s |\n", g.key[1], g.key[3], len(g.runs),
			field(g.runs, func(r result) float64 { return r.FailoverMS }),
			field(g.runs, func(r result) float64 { return r.OutageMS }), bound)
	}
}

// renderFindings states what the table shows about the two safety rules
// (zero split-brain, the crash bound) and where a fault that should not
// move leadership still cost the client something.
func renderFindings(p func(string, ...any), rs []result) {
	var lb []result
	for _, r := range rs {
		if r.Harness == "lb" {
			lb = append(lb, r)
		}
	}
	if len(lb) == 0 {
		return
	}
	split := 0
	for _, r := range lb {
		split += r.ProbeDouble + r.ClientAlternations
	}
	p("\nReading it (computed from the same runs):\n\n")
	p("- Split-brain instants over all %d runs behind HAProxy: %d.\n", len(lb), split)
	worst := map[string]float64{}
	var timings []string
	for _, r := range lb {
		if r.Scenario != "kill-9" && r.Scenario != "host-cut" {
			continue
		}
		if _, ok := worst[r.Timing]; !ok {
			timings = append(timings, r.Timing)
		}
		worst[r.Timing] = max(worst[r.Timing], r.FailoverMS)
	}
	for _, tm := range timings {
		if b, ok := crashBound(tm); ok {
			p("- Crash failover (kill-9, host-cut) at %s: worst %.0f ms against the asserted bound %.0f ms.\n", tm, worst[tm], b)
		}
	}
	var costly []string
	for _, g := range groups(lb) {
		out := field(g.runs, func(r result) float64 { return r.OutageMS })
		if out.n > 0 && out.max > 0 && g.runs[0].FailoverMS < 0 {
			costly = append(costly, fmt.Sprintf("%s/%s (outage median %.0f ms, max %.0f ms)", g.key[1], g.key[2], out.median, out.max))
		}
	}
	if len(costly) > 0 {
		p("- Faults that were not meant to move leadership but cost the client an outage: %s.\n", strings.Join(costly, "; "))
	}
}

// crashBound is lease-ttl + retry-period + 0.9 s (HAProxy rise x inter
// 400 ms + 0.5 s) for a "ttl/renew/retry" timing string, in ms.
func crashBound(timing string) (float64, bool) {
	parts := strings.Split(timing, "/")
	if len(parts) != 3 {
		return 0, false
	}
	ttl, err1 := time.ParseDuration(parts[0])
	retry, err2 := time.ParseDuration(parts[2])
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64((ttl + retry + 900*time.Millisecond).Milliseconds()), true
}
