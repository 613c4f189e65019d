package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// logLine is the part of lbhc's --log-format json lines we use.
type logLine struct {
	Time   time.Time `json:"time"`
	Msg    string    `json:"msg"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
}

func readLog(path string) ([]logLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && !l.Time.IsZero() {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// first returns the first line at or after t (Unix ns) matching ok.
func first(lines []logLine, after int64, ok func(logLine) bool) (logLine, bool) {
	for _, l := range lines {
		if l.Time.UnixNano() >= after && ok(l) {
			return l, true
		}
	}
	return logLine{}, false
}

func toLeader(l logLine) bool { return l.Msg == "role changed" && l.To == "leader" }

// grantTime is when the promotion started: the "role changed" line is logged
// at its end and says "lease acquired; promoted in D".
func grantTime(l logLine) (int64, error) {
	_, d, ok := strings.Cut(l.Reason, "promoted in ")
	if !ok {
		return 0, fmt.Errorf("role change reason %q has no promotion time", l.Reason)
	}
	dur, err := time.ParseDuration(d)
	if err != nil {
		return 0, fmt.Errorf("role change reason %q: %w", l.Reason, err)
	}
	return l.Time.UnixNano() - dur.Nanoseconds(), nil
}

func readNs(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func readWatch(path string) (watchResult, error) {
	var r watchResult
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	if !r.Reached {
		return r, fmt.Errorf("%s: pattern %q not reached", path, r.Want)
	}
	return r, nil
}

// series collects one figure over the cycles, in milliseconds.
type series struct {
	name string
	ms   []float64
}

func (s *series) add(ns int64) { s.ms = append(s.ms, float64(ns)/1e6) }

func (s *series) String() string {
	if len(s.ms) == 0 {
		return fmt.Sprintf("%-44s n=0", s.name)
	}
	v := slices.Clone(s.ms)
	slices.Sort(v)
	return fmt.Sprintf("%-44s n=%-3d min %8.2f  median %8.2f  max %8.2f  ms", s.name, len(v), v[0], v[len(v)/2], v[len(v)-1])
}

func runVIPReport(args []string) error {
	fs := flag.NewFlagSet("vipreport", flag.ExitOnError)
	dir := fs.String("dir", "", "directory with one sub-directory per cycle (written by scripts/bench/vip.sh)")
	_ = fs.Parse(args)
	if *dir == "" {
		return errors.New("-dir is required")
	}
	var (
		start = series{name: "none: grant -> VIP usable from peer"}
		added = series{name: "none: grant -> \"VIPs added\" logged"}
		role  = series{name: "none: grant -> \"role changed\" (probe open)"}
		gone  = series{name: "none: SIGTERM -> VIP gone at peer"}
		rmLog = series{name: "none: SIGTERM -> \"VIPs removed\" logged"}
		res   = series{name: "none: peer resolution (down - last ok start)"}
		swGap = series{name: "switchover: peer outage (last ok -> ok again)"}
		swGon = series{name: "switchover: request -> VIP gone at peer"}
		swRm  = series{name: "switchover: request -> old \"VIPs removed\""}
		swGr  = series{name: "switchover: old removed -> new grant"}
		swUse = series{name: "switchover: new grant -> VIP usable from peer"}
	)
	cycles, err := filepath.Glob(filepath.Join(*dir, "*", "kind"))
	if err != nil {
		return err
	}
	slices.Sort(cycles)
	for _, k := range cycles {
		c := filepath.Dir(k)
		kind, _ := os.ReadFile(k)
		var err error
		switch strings.TrimSpace(string(kind)) {
		case "none":
			err = noneCycle(c, &start, &added, &role, &gone, &rmLog, &res)
		case "switchover":
			err = switchCycle(c, &swGap, &swGon, &swRm, &swGr, &swUse)
		default:
			err = fmt.Errorf("unknown kind %q", kind)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "cycle %s skipped: %v\n", c, err)
		}
	}
	for _, s := range []*series{&start, &added, &role, &gone, &rmLog, &res, &swGap, &swGon, &swRm, &swGr, &swUse} {
		if len(s.ms) > 0 {
			fmt.Println(s)
		}
	}
	return nil
}

func noneCycle(c string, start, added, role, gone, rmLog, res *series) error {
	lines, err := readLog(filepath.Join(c, "node.log"))
	if err != nil {
		return err
	}
	up, err := readWatch(filepath.Join(c, "up.json"))
	if err != nil {
		return err
	}
	down, err := readWatch(filepath.Join(c, "down.json"))
	if err != nil {
		return err
	}
	kill, err := readNs(filepath.Join(c, "kill_ns"))
	if err != nil {
		return err
	}
	rc, ok := first(lines, 0, toLeader)
	if !ok {
		return errors.New("no role change to leader in node.log")
	}
	grant, err := grantTime(rc)
	if err != nil {
		return err
	}
	add, ok := first(lines, 0, func(l logLine) bool { return l.Msg == "VIPs added" })
	if !ok {
		return errors.New(`no "VIPs added" in node.log`)
	}
	rm, ok := first(lines, kill, func(l logLine) bool { return l.Msg == "VIPs removed" })
	if !ok {
		return errors.New(`no "VIPs removed" after the signal in node.log`)
	}
	start.add(up.FirstOK - grant)
	added.add(add.Time.UnixNano() - grant)
	role.add(rc.Time.UnixNano() - grant)
	gone.add(down.DownAt - kill)
	rmLog.add(rm.Time.UnixNano() - kill)
	res.add(down.DownAt - down.LastOK)
	return nil
}

func switchCycle(c string, swGap, swGon, swRm, swGr, swUse *series) error {
	from, err := readLog(filepath.Join(c, "from.log"))
	if err != nil {
		return err
	}
	to, err := readLog(filepath.Join(c, "to.log"))
	if err != nil {
		return err
	}
	gap, err := readWatch(filepath.Join(c, "gap.json"))
	if err != nil {
		return err
	}
	sw, err := readNs(filepath.Join(c, "switch_ns"))
	if err != nil {
		return err
	}
	rm, ok := first(from, sw, func(l logLine) bool { return l.Msg == "VIPs removed" })
	if !ok {
		return errors.New(`no "VIPs removed" after the switchover in from.log`)
	}
	rc, ok := first(to, sw, toLeader)
	if !ok {
		return errors.New("no role change to leader after the switchover in to.log")
	}
	grant, err := grantTime(rc)
	if err != nil {
		return err
	}
	swGap.add(gap.UpAgain - gap.LastOK)
	swGon.add(gap.DownAt - sw)
	swRm.add(rm.Time.UnixNano() - sw)
	swGr.add(grant - rm.Time.UnixNano())
	swUse.add(gap.UpAgain - grant)
	return nil
}
