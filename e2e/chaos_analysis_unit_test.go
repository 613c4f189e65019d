//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Pure tests of the chaos suite's measurement: no namespaces, no root.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(msec int) time.Time { return t0.Add(time.Duration(msec) * time.Millisecond) }

// clientSeq builds client samples every 100 ms from start: "n1", "" (error).
func clientSeq(start int, whos ...string) []ClientSample {
	var out []ClientSample
	for i, w := range whos {
		s := ClientSample{At: at(start + 100*i), Who: w}
		if w == "" {
			s.Err = "HTTP 503"
		}
		out = append(out, s)
	}
	return out
}

func TestAnalyse(t *testing.T) {
	probe := func(msec int, who ...string) Sample { return Sample{At: at(msec), Answered: who} }
	tests := []struct {
		name string
		w    Window
		want Result
	}{
		{
			name: "crash: old keeps answering until the LB drops it, then errors, then the new leader",
			w: Window{Fault: at(0), End: at(1000), Old: "n1", New: "n2",
				Probe:  []Sample{probe(0), probe(300, "n2"), probe(600, "n2")},
				Client: clientSeq(-200, "n1", "n1", "n1", "", "", "n2", "n2", "n2", "n2", "n2", "n2", "n2", "n2")},
			want: Result{Old: "n1", New: "n2", FailoverMS: 300, ProbeMS: 300, OutageMS: 200, ErrorMS: 200,
				ClientErrors: 2, ClientRequests: 11},
		},
		{
			name: "seamless hand-over: no outage",
			w: Window{Fault: at(0), End: at(300), Old: "n1", New: "n2",
				Client: clientSeq(0, "n1", "n2", "n2", "n2")},
			want: Result{Old: "n1", New: "n2", FailoverMS: 100, ProbeMS: -1, ClientRequests: 4},
		},
		{
			name: "no move: errors are an outage, no failover time",
			w: Window{Fault: at(0), End: at(500), Old: "n1", New: "n1",
				Client: clientSeq(0, "n1", "", "", "n1", "n1", "n1")},
			want: Result{Old: "n1", New: "n1", FailoverMS: -1, ProbeMS: -1, OutageMS: 200, ErrorMS: 200,
				ClientErrors: 2, ClientRequests: 6},
		},
		{
			name: "never recovered: the outage runs to the end of the window",
			w: Window{Fault: at(0), End: at(1000), Old: "n1", New: "n2",
				Client: clientSeq(0, "n1", "", "")},
			want: Result{Old: "n1", New: "n2", FailoverMS: -1, ProbeMS: -1, OutageMS: 900, ErrorMS: 900,
				ClientErrors: 2, ClientRequests: 3},
		},
		{
			name: "a third node's answer is foreign: the outage starts there",
			w: Window{Fault: at(0), End: at(400), Old: "n1", New: "n2",
				Client: clientSeq(0, "n3", "n3", "n2", "n2", "n2")},
			want: Result{Old: "n1", New: "n2", FailoverMS: 200, ProbeMS: -1, OutageMS: 200, ClientRequests: 5},
		},
		{
			name: "two answers in one probe round and an A-B-A client are split-brain",
			w: Window{Fault: at(0), End: at(700), Old: "n1", New: "n2",
				Probe:  []Sample{probe(100, "n1"), probe(200, "n1", "n2"), probe(300, "n2")},
				Client: clientSeq(0, "n1", "n2", "n1", "n2", "n2", "n2", "n2", "n2")},
			want: Result{Old: "n1", New: "n2", FailoverMS: 100, ProbeMS: 200, ClientRequests: 8,
				ProbeDouble: 1, ClientAlternations: 2},
		},
		{
			name: "a move back after more than a second is not an alternation",
			w: Window{Fault: at(0), End: at(3000), Old: "n1", New: "n1",
				Client: append(append(clientSeq(0, "n1"), clientSeq(100, "n2", "n2")...),
					ClientSample{At: at(2000), Who: "n1"})},
			want: Result{Old: "n1", New: "n1", FailoverMS: -1, ProbeMS: -1, OutageMS: 1900, ClientRequests: 4},
		},
		{
			name: "samples outside the window do not count",
			w: Window{Fault: at(1000), End: at(1200), Old: "n1", New: "n1",
				Probe:  []Sample{probe(0, "n1", "n2"), probe(1100, "n1")},
				Client: clientSeq(0, "", "", "n1")},
			want: Result{Old: "n1", New: "n1", FailoverMS: -1, ProbeMS: -1},
		},
		{
			name: "LB overlap is the time with two servers up",
			w: Window{Fault: at(0), End: at(1000), Old: "n1", New: "n2",
				LB: []LBSample{{at(0), []string{"n1"}}, {at(100), []string{"n1", "n2"}}, {at(350), []string{"n2"}}}},
			want: Result{Old: "n1", New: "n2", FailoverMS: -1, ProbeMS: -1, LBOverlapMS: 250},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Analyse(tc.w); got != tc.want {
				type plain Result // without the String method
				t.Errorf("Analyse:\n got  %+v\n want %+v", plain(got), plain(tc.want))
			}
		})
	}
}

func TestParseUpServers(t *testing.T) {
	const head = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n"
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"up, going down and down servers",
			head + "fe,FRONTEND,,,0,1,2000,5,,,,,,,,,,OPEN,\n" +
				"app,n1,0,0,0,1,,3,,,,,,0,0,0,0,UP,1\n" +
				"app,n2,0,0,0,1,,3,,,,,,0,0,0,0,UP 1/2,1\n" +
				"app,n3,0,0,0,1,,3,,,,,,0,0,0,0,DOWN 1/4,1\n" +
				"other,n3,0,0,0,1,,3,,,,,,0,0,0,0,UP,1\n" +
				"app,BACKEND,0,0,0,1,,3,,,,,,0,0,0,0,UP,1\n\n",
			[]string{"n1", "n2"}, ""},
		{"none up", head + "app,n1,0,0,0,1,,3,,,,,,0,0,0,0,DOWN,1\n", []string{}, ""},
		{"no status column", "# pxname,svname\napp,n1\n", nil, `show stat: no status column in "# pxname,svname"`},
		{"empty", "", nil, "show stat: EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUpServers(strings.NewReader(tc.in), "app")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") || got == nil {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestWriteTimeline(t *testing.T) {
	dir := t.TempDir()
	w := Window{Fault: at(0), End: at(500), Old: "n1", New: "n2",
		Probe:  []Sample{{At: at(-3000), Answered: []string{"n1"}}, {At: at(-100), Answered: []string{"n1"}}, {At: at(100)}, {At: at(200), Answered: []string{"n1", "n2"}}},
		LB:     []LBSample{{at(0), []string{"n1"}}, {at(300), nil}, {at(900), []string{"n2"}}},
		Client: clientSeq(0, "n1", "", "n2")}
	if err := WriteTimeline(dir, w, []string{"n1", "n2", "n3"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"probe.dat":  "-0.100 1\n0.100 0\n0.200 1\n0.200 2\n",
		"lb.dat":     "0.000 1\n0.300 0\n",
		"client.dat": "0.000 1\n0.100 0\n0.200 2\n",
	}
	for name, w := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != w {
			t.Errorf("%s = %q, %v; want %q", name, b, err, w)
		}
	}
}

// TestDelayProxy checks the "backend slow" proxy: one exchange takes two
// delays, and pipelined messages are delayed once each, not cumulatively.
func TestDelayProxy(t *testing.T) {
	n := NewNet(t) // hub only; needs root
	dial := dialer(t, n.Hub)
	var echo net.Listener
	var err error
	InNS(t, n.Hub, func() { echo, err = net.Listen("tcp", "127.0.0.1:7001") })
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for range 4 {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	p := StartDelayProxy(t, n.Hub, "127.0.0.1:7002", "127.0.0.1:7001", dial)
	const d = 100 * time.Millisecond
	for _, delay := range []time.Duration{0, d} {
		p.SetDelay(delay)
		c, err := dial("127.0.0.1:7002", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		start := time.Now()
		for i := range 5 {
			fmt.Fprintf(c, "line %d\n", i)
			time.Sleep(10 * time.Millisecond)
		}
		for i := range 5 {
			line, err := r.ReadString('\n')
			if err != nil || line != fmt.Sprintf("line %d\n", i) {
				t.Fatalf("delay %s: read %q, %v", delay, line, err)
			}
		}
		took := time.Since(start)
		c.Close()
		// 5 lines 10 ms apart: 40 ms of sending plus one round trip.
		if lo, hi := 2*delay+40*time.Millisecond, 2*delay+40*time.Millisecond+300*time.Millisecond; took < lo || took > hi {
			t.Errorf("delay %s: 5 pipelined echoes took %s, want %s..%s", delay, took, lo, hi)
		}
	}
}
