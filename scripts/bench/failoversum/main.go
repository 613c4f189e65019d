// Command failoversum turns the JSON lines the e2e chaos suite writes
// ($LBHC_CHAOS_JSON, one Result per run) into the "Failover under faults"
// and "lbhc vs keepalived" sections of BENCHMARKS.md, and replaces the part
// between <!-- chaos:begin --> and <!-- chaos:end --> (or appends it).
//
//	go run ./scripts/bench/failoversum -in results.jsonl -reps 5 \
//	    -cmd 'REPS=5 scripts/bench/failover.sh' -write BENCHMARKS.md
//
// Without -write the sections go to standard output.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// result mirrors e2e.Result (the fields the tables use).
type result struct {
	Scenario           string  `json:"scenario"`
	Backend            string  `json:"backend"`
	Timing             string  `json:"timing"`
	Peer               string  `json:"peer"`
	Harness            string  `json:"harness"`
	FailoverMS         float64 `json:"failover_ms"`
	OutageMS           float64 `json:"outage_ms"`
	ErrorMS            float64 `json:"error_ms"`
	ClientErrors       int     `json:"client_errors"`
	ClientRequests     int     `json:"client_requests"`
	ProbeDouble        int     `json:"probe_double"`
	ClientAlternations int     `json:"client_alternations"`
	LBOverlapMS        float64 `json:"lb_overlap_ms"`
	HealErrors         int     `json:"heal_errors"`
	HealMoved          bool    `json:"heal_moved"`
	HealUnsettled      bool    `json:"heal_unsettled"`
}

const (
	beginMarker = "<!-- chaos:begin -->"
	endMarker   = "<!-- chaos:end -->"
)

func main() {
	in := flag.String("in", "", "JSON lines file written by the e2e suite (LBHC_CHAOS_JSON)")
	cmd := flag.String("cmd", "REPS=5 scripts/bench/failover.sh", "the command that reproduces the figures")
	env := flag.String("env", "", "one line describing the machine and date")
	write := flag.String("write", "", "BENCHMARKS.md to update in place (default: print)")
	flag.Parse()
	if err := run(*in, *cmd, *env, *write); err != nil {
		fmt.Fprintln(os.Stderr, "failoversum:", err)
		os.Exit(1)
	}
}

func run(in, cmd, env, write string) error {
	if in == "" {
		return errors.New("-in is required")
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rs, err := readResults(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(rs) == 0 {
		return fmt.Errorf("%s: no results", in)
	}
	section := render(rs, cmd, env)
	if write == "" {
		_, err := io.WriteString(os.Stdout, section)
		return err
	}
	old, err := os.ReadFile(write)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.WriteFile(write, splice(old, section), 0o644)
}

func readResults(r io.Reader) ([]result, error) {
	var out []result
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var x result
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, x)
	}
	return out, sc.Err()
}

// splice replaces the marked section of doc with section (which carries the
// markers), or appends it.
func splice(doc []byte, section string) []byte {
	b, e := bytes.Index(doc, []byte(beginMarker)), bytes.Index(doc, []byte(endMarker))
	if b >= 0 && e > b {
		out := append([]byte{}, doc[:b]...)
		out = append(out, strings.TrimSuffix(section, "\n")...)
		return append(out, doc[e+len(endMarker):]...)
	}
	if len(doc) == 0 {
		doc = []byte("# lbhc benchmarks\n")
	}
	if !bytes.HasSuffix(doc, []byte("\n")) {
		doc = append(doc, '\n')
	}
	return append(append(doc, '\n'), section...)
}
