package cmdline

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/agent"
)

// A flag value that does not parse names the flag with two dashes and says
// what a valid value looks like, so that the one line is enough to fix it.
func TestFlagParseMessages(t *testing.T) {
	t.Setenv("LBHC_STATE_DIR", t.TempDir())
	t.Setenv("LBHC_ADMIN_ADDRESS", "127.0.0.1:1") // would fail loudly if anything got that far
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"run", "--lease-ttl", "15"},
			want: `invalid --lease-ttl: "15" has no unit; write a duration such as "15s" (units: ms, s, m, h)`},
		{args: []string{"run", "--probe-idle-timeout=0.5"},
			want: `invalid --probe-idle-timeout: "0.5" has no unit; write a duration such as "0.5s" (units: ms, s, m, h)`},
		{args: []string{"run", "--retry-period", "two"},
			want: `invalid --retry-period: "two" is not a duration; write one such as "15s", "500ms" or "1m30s"`},
		{args: []string{"run", "--probe-port", "26001,abc"},
			want: `invalid --probe-port: item "abc" of "26001,abc" is not a whole number; write numbers separated by commas, e.g. "26001,26002"`},
		{args: []string{"run", "--probe-port", "http"},
			want: `invalid --probe-port: "http" is not a whole number; write numbers separated by commas, e.g. "26001,26002"`},
		{args: []string{"run", "--priority", "high"},
			want: `invalid --priority: "high" is not a whole number, e.g. "3"`},
		{args: []string{"run", "--probe-kernel-fence=maybe"},
			want: `invalid --probe-kernel-fence: "maybe" is not true or false`},
		{args: []string{"run", "--lease-tll", "5s"},
			want: `unknown flag --lease-tll (did you mean --lease-ttl?)`},
		{args: []string{"run", "--frobnicate"},
			want: `unknown flag --frobnicate (see 'lbhc run --help')`},
		{args: []string{"run", "--lease-ttl"},
			want: `invalid --lease-ttl: needs a value, e.g. --lease-ttl 15s`},
		{args: []string{"run", "--probe-port"},
			want: `invalid --probe-port: needs a value, e.g. --probe-port 26001,26002`},
		{args: []string{"run", "--node-id"},
			want: `invalid --node-id: needs a value`},
		{args: []string{"status", "--timeout", "5"},
			want: `invalid --timeout: "5" has no unit; write a duration such as "5s" (units: ms, s, m, h)`},
		{args: []string{"run"}, env: map[string]string{"LBHC_LEASE_TTL": "15"},
			want: `invalid --lease-ttl (from $LBHC_LEASE_TTL): "15" has no unit; write a duration such as "15s" (units: ms, s, m, h)`},
		{args: []string{"run"}, env: map[string]string{"LBHC_PROBE_PORT": "26001,x"},
			want: `invalid --probe-port (from $LBHC_PROBE_PORT): item "x" of "26001,x" is not a whole number; write numbers separated by commas, e.g. "26001,26002"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err, code, _ := runApp(t, tc.args...)
			if err == nil || code != 2 {
				t.Fatalf("err %v, exit %d; want exit 2", err, code)
			}
			if err.Error() != tc.want {
				t.Fatalf("\n got  %q\n want %q", err.Error(), tc.want)
			}
		})
	}
}

// Help shows one default per flag: a default described in words goes in
// DefaultText, not in the usage text next to the value urfave/cli prints.
func TestHelpShowsOneDefaultPerFlag(t *testing.T) {
	for _, cmd := range newApp().Commands {
		for _, f := range cmd.Flags {
			line := f.String()
			if n := strings.Count(line, "(default:"); n > 1 {
				t.Errorf("lbhc %s --help: %d defaults in %q", cmd.Name, n, line)
			}
		}
	}
	want := map[string]string{
		"node-id":          `--node-id value	this node's unique name in the group (default: hostname) [$LBHC_NODE_ID]`,
		"priority-step":    `--priority-step value	acquire delay per priority level (default: retry-period + 500ms) [$LBHC_PRIORITY_STEP]`,
		"shutdown-timeout": `--shutdown-timeout value	one budget for the whole demotion at SIGTERM (and for every other demotion): cancel a running promotion, demote steps, VIP removal, lease release; 1/4 is kept for the release, slow steps are cut (default: renew-deadline) [$LBHC_SHUTDOWN_TIMEOUT]`,
	}
	for _, f := range runCommand().Flags {
		if w, ok := want[f.Names()[0]]; ok && f.String() != w {
			t.Errorf("help line\n got  %q\n want %q", f.String(), w)
		}
	}
}

// JSON logs carry durations as strings like "5s", as text logs do.
func TestLogDurationsAreStrings(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		app := &cli.App{Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info"},
			&cli.StringFlag{Name: "log-format", Value: format},
		}}
		var out bytes.Buffer
		app.Action = func(c *cli.Context) error {
			log, err := newLogger(c, &out)
			if err != nil {
				return err
			}
			log.Info("lbhc started", "lease_ttl", 5*time.Second, "took", 1500*time.Millisecond, "count", 3)
			return nil
		}
		if err := app.Run([]string{"lbhc"}); err != nil {
			t.Fatal(err)
		}
		wants := map[string][]string{
			"json": {`"lease_ttl":"5s"`, `"took":"1.5s"`, `"count":3`},
			"text": {`lease_ttl=5s`, `took=1.5s`, `count=3`},
		}[format]
		for _, w := range wants {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s log %q lacks %s", format, out.String(), w)
			}
		}
	}
	if a := durationAttr(nil, slog.Int64("n", 5)); a.Value.Kind() != slog.KindInt64 {
		t.Errorf("durationAttr changed a non-duration: %v", a)
	}
}

func TestStatusCandidatesLine(t *testing.T) {
	tests := []struct {
		c    *agent.CandidatesStatus
		want string
	}{
		{nil, ""},
		{&agent.CandidatesStatus{}, ""},
		{&agent.CandidatesStatus{Supported: true, Known: true, Nodes: []string{"b", "c"}, Window: "6s"}, "can take over: b, c"},
		{&agent.CandidatesStatus{Supported: true, Known: true, Window: "6s"}, "can take over: nobody (no other node campaigned in the last 6s)"},
		{&agent.CandidatesStatus{Supported: true, Window: "6s"}, "can take over: not known yet (watching the other nodes for 6s)"},
	}
	for _, tc := range tests {
		if got := candidatesLine(tc.c); got != tc.want {
			t.Errorf("candidatesLine(%+v)\n got  %q\n want %q", tc.c, got, tc.want)
		}
	}
}

// lbhc status tells "no probe yet" from a probe some time ago.
func TestStatusProbeLine(t *testing.T) {
	tests := []struct {
		probe agent.ProbeStatus
		want  string
	}{
		{agent.ProbeStatus{Protocol: "tcp", Ports: []int{26001}}, "probe: tcp [26001] closed, no probe yet\n"},
		{agent.ProbeStatus{Protocol: "http", Ports: []int{26001, 26002}, Listening: true, SinceLastProbe: "1.2s"},
			"probe: http [26001 26002] open, last probe 1.2s ago\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		printStatus(&b, agent.Status{NodeID: "a", Role: "follower", Election: "file", Probe: tc.probe})
		lines := strings.SplitAfter(b.String(), "\n")
		if len(lines) < 3 || lines[2] != tc.want {
			t.Errorf("status output:\n%s\nwant third line %q", b.String(), tc.want)
		}
	}
}
