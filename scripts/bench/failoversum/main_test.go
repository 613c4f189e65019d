package main

import (
	"strings"
	"testing"
)

func TestSplice(t *testing.T) {
	sec := beginMarker + "\nNEW\n" + endMarker + "\n"
	tests := []struct{ name, doc, want string }{
		{"new file", "", "# lbhc benchmarks\n\n" + sec},
		{"append after other sections", "# B\n\n## Probe\nx", "# B\n\n## Probe\nx\n\n" + sec},
		{"replace in place, keep the rest", "# B\n" + beginMarker + "\nOLD\n" + endMarker + "\n## After\n",
			"# B\n" + beginMarker + "\nNEW\n" + endMarker + "\n## After\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(splice([]byte(tc.doc), sec)); got != tc.want {
				t.Errorf("splice:\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	tests := []struct {
		in   []float64
		want stats
	}{
		{nil, stats{}},
		{[]float64{-1, -1}, stats{}},
		{[]float64{300, -1, 100, 200}, stats{3, 200, 300}},
		{[]float64{400, 100}, stats{2, 250, 400}},
	}
	for _, tc := range tests {
		if got := summarise(tc.in); got != tc.want {
			t.Errorf("summarise(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	in := `{"scenario":"kill-9","backend":"file","timing":"3s/2s/500ms","peer":"lbhc","harness":"lb","failover_ms":3400,"outage_ms":3200,"client_errors":200,"probe_double":0,"client_alternations":0}
{"scenario":"kill-9","backend":"file","timing":"3s/2s/500ms","peer":"lbhc","harness":"lb","failover_ms":3600,"outage_ms":3300,"client_errors":210,"probe_double":0,"client_alternations":0}
{"scenario":"kill-9","backend":"vrrp","timing":"advert_int 1s","peer":"keepalived","harness":"vip","failover_ms":3000,"lb_overlap_ms":600}
{"scenario":"kill-9","backend":"etcd","timing":"4s/3s/1s","peer":"lbhc","harness":"vip","failover_ms":3600,"lb_overlap_ms":500,"heal_moved":true}
`
	rs, err := readResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	out := render(rs, "REPS=2 scripts/bench/failover.sh", "")
	for _, want := range []string{
		"| kill-9 | file | 3s/2s/500ms | 2 | 3500 / 3600 | 3250 / 3300 | 205 / 210 | 0 |",
		"| kill-9 | 3s/2s/500ms | 2 | 3500 / 3600 | 3250 / 3300 | ttl + retry + 0.9 s |",
		"| kill-9 | 1 / 1 | 3000 / 3000 | 3600 / 3600 | 1.20 | 600 / 500 | 0 / 0 of 1; 1 / 0 of 1 |",
		"`REPS=2 scripts/bench/failover.sh`",
		"- Split-brain instants over all 2 runs behind HAProxy: 0.",
		"- Crash failover (kill-9, host-cut) at 3s/2s/500ms: worst 3600 ms against the asserted bound 4400 ms.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render output lacks %q:\n%s", want, out)
		}
	}
	if _, err := readResults(strings.NewReader("{\n")); err == nil || !strings.HasPrefix(err.Error(), "line 1: ") {
		t.Errorf("bad JSON: err = %v, want line 1: ...", err)
	}
}

func TestCrashBound(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"3s/2s/500ms", 4400, true},
		{"15s/10s/2s", 17900, true},
		{"advert_int 1s", 0, false},
		{"x/2s/1s", 0, false},
	}
	for _, tc := range tests {
		if got, ok := crashBound(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("crashBound(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
