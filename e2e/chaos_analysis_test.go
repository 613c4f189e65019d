//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Result is what one fault-injection run measured. Times are milliseconds
// from the fault; -1 means "not applicable" (leadership was not expected to
// move, or nothing happened in the window).
type Result struct {
	Scenario string `json:"scenario"`
	Backend  string `json:"backend"`
	Timing   string `json:"timing"`  // lease-ttl/renew-deadline/retry-period
	Peer     string `json:"peer"`    // "lbhc" or "keepalived"
	Harness  string `json:"harness"` // "lb" (HAProxy in front) or "vip" (keepalived comparison)
	Old      string `json:"old"`
	New      string `json:"new"`
	// FailoverMS: fault -> first client answer from the new leader.
	FailoverMS float64 `json:"failover_ms"`
	// ProbeMS: fault -> first probe answer from a node other than the old one.
	ProbeMS float64 `json:"probe_ms"`
	// OutageMS: client-visible outage, first failed or foreign answer -> first
	// answer from the new leader (0 when the client never saw one).
	OutageMS float64 `json:"outage_ms"`
	// ErrorMS: time the client spent in failed requests (sum of the
	// intervals starting at a failed request), for multi-step scenarios.
	ErrorMS        float64 `json:"error_ms"`
	ClientErrors   int     `json:"client_errors"`
	ClientRequests int     `json:"client_requests"`
	// ProbeDouble: sampling rounds in which two nodes answered the probe.
	ProbeDouble int `json:"probe_double"`
	// ClientAlternations: the client went A, B, A within altWindow.
	ClientAlternations int `json:"client_alternations"`
	// LBOverlapMS: time HAProxy had more than one server UP (information).
	// In the keepalived comparison (no LB) it is the time two hosts held
	// the VIP.
	LBOverlapMS float64 `json:"lb_overlap_ms"`
	// HealErrors, HealMoved: after the faulty node came back, requests that
	// failed and whether the VIP moved again (keepalived comparison only).
	HealErrors int  `json:"heal_errors,omitempty"`
	HealMoved  bool `json:"heal_moved,omitempty"`
	// HealUnsettled: no single reachable VIP owner within healSettle after
	// the node returned (the group was then restarted).
	HealUnsettled bool `json:"heal_unsettled,omitempty"`
}

// SplitBrain is the number of split-brain instants the run saw.
func (r Result) SplitBrain() int { return r.ProbeDouble + r.ClientAlternations }

// altWindow: a return to the previous node within this is an alternation;
// legitimate moves back (rolling restarts) take several seconds.
const altWindow = time.Second

// Window is the input of Analyse: the samples of one run.
type Window struct {
	Fault, End time.Time
	Old, New   string
	Probe      []Sample
	LB         []LBSample
	Client     []ClientSample
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Analyse computes the run's figures from samples in [Fault, End]. Samples
// before Fault count only for alternations (the client's last answers
// before the fault).
func Analyse(w Window) Result {
	r := Result{Old: w.Old, New: w.New, FailoverMS: -1, ProbeMS: -1}
	in := func(t time.Time) bool { return !t.Before(w.Fault) && !t.After(w.End) }

	for _, s := range w.Probe {
		if !in(s.At) {
			continue
		}
		if len(s.Answered) > 1 {
			r.ProbeDouble++
		}
		if r.ProbeMS < 0 && w.New != w.Old {
			for _, who := range s.Answered {
				if who != w.Old {
					r.ProbeMS = ms(s.At.Sub(w.Fault))
					break
				}
			}
		}
	}

	var client []ClientSample
	for _, s := range w.Client {
		if in(s.At) {
			client = append(client, s)
		}
	}
	r.ClientRequests = len(client)
	start := -1
	for i, s := range client {
		if s.Err != "" {
			r.ClientErrors++
			next := w.End
			if i+1 < len(client) {
				next = client[i+1].At
			}
			r.ErrorMS += ms(next.Sub(s.At))
		}
		if w.New != w.Old && r.FailoverMS < 0 && s.Who == w.New {
			r.FailoverMS = ms(s.At.Sub(w.Fault))
		}
		if start < 0 && (s.Err != "" || (s.Who != w.Old && s.Who != w.New)) {
			start = i
		}
	}
	if start >= 0 {
		end := w.End
		for _, s := range client[start:] {
			if s.Who == w.New {
				end = s.At
				break
			}
		}
		r.OutageMS = ms(end.Sub(client[start].At))
	}

	// Alternations over every successful answer up to End.
	type run struct {
		who         string
		first, last time.Time
	}
	var runs []run
	for _, s := range w.Client {
		if s.Who == "" || s.At.After(w.End) {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].who == s.Who {
			runs[n-1].last = s.At
			continue
		}
		runs = append(runs, run{s.Who, s.At, s.At})
	}
	for i := 1; i+1 < len(runs); i++ {
		if runs[i+1].who == runs[i-1].who && runs[i+1].first.Sub(runs[i-1].last) < altWindow && in(runs[i+1].first) {
			r.ClientAlternations++
		}
	}

	for i, s := range w.LB {
		if !in(s.At) || len(s.Up) < 2 {
			continue
		}
		next := w.End
		if i+1 < len(w.LB) {
			next = w.LB[i+1].At
		}
		r.LBOverlapMS += ms(next.Sub(s.At))
	}
	return r
}

// String is the one-line summary logged per run.
func (r Result) String() string {
	return fmt.Sprintf("%s/%s %s %s->%s: failover %.0f ms (probe %.0f ms), client outage %.0f ms, %d/%d requests failed, split-brain %d (probe %d, client %d), LB overlap %.0f ms",
		r.Scenario, r.Backend, r.Timing, r.Old, r.New, r.FailoverMS, r.ProbeMS, r.OutageMS,
		r.ClientErrors, r.ClientRequests, r.SplitBrain(), r.ProbeDouble, r.ClientAlternations, r.LBOverlapMS)
}

// resultsEnv names a file to which every run appends its Result as one JSON
// line (scripts/bench/failover.sh sets it).
const resultsEnv = "LBHC_CHAOS_JSON"

// recordResult appends r to $LBHC_CHAOS_JSON when set.
func recordResult(r Result) error {
	path := os.Getenv(resultsEnv)
	if path == "" {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// timelineLead is how much of the time before the fault a timeline shows.
const timelineLead = 2 * time.Second

// WriteTimeline writes one run's samples as gnuplot data into dir:
// probe.dat, lb.dat and client.dat with "seconds-since-fault lane" lines,
// where lane is the node's index in nodes (1-based) and 0 means nobody (no
// probe answer, no server UP, a failed request). A round with two answers
// writes two lines at the same time.
func WriteTimeline(dir string, w Window, nodes []string) error {
	lane := map[string]int{}
	for i, n := range nodes {
		lane[n] = i + 1
	}
	sec := func(t time.Time) float64 { return t.Sub(w.Fault).Seconds() }
	from := w.Fault.Add(-timelineLead)
	write := func(name string, lines []string) error {
		return os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
	var probe, lb, client []string
	for _, s := range w.Probe {
		if s.At.After(w.End) || s.At.Before(from) {
			continue
		}
		if len(s.Answered) == 0 {
			probe = append(probe, fmt.Sprintf("%.3f 0", sec(s.At)))
		}
		for _, who := range s.Answered {
			probe = append(probe, fmt.Sprintf("%.3f %d", sec(s.At), lane[who]))
		}
	}
	for _, s := range w.LB {
		if s.At.After(w.End) || s.At.Before(from) {
			continue
		}
		if len(s.Up) == 0 {
			lb = append(lb, fmt.Sprintf("%.3f 0", sec(s.At)))
		}
		for _, who := range s.Up {
			lb = append(lb, fmt.Sprintf("%.3f %d", sec(s.At), lane[who]))
		}
	}
	for _, s := range w.Client {
		if s.At.After(w.End) || s.At.Before(from) {
			continue
		}
		client = append(client, fmt.Sprintf("%.3f %d", sec(s.At), lane[s.Who]))
	}
	for name, lines := range map[string][]string{"probe.dat": probe, "lb.dat": lb, "client.dat": client} {
		if err := write(name, lines); err != nil {
			return err
		}
	}
	return nil
}
