package main

import (
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	ok := func(s, e int64) attempt { return attempt{start: s, end: e, ok: true} }
	bad := func(s int64) attempt { return attempt{start: s, end: s + 200} }
	tests := []struct {
		name string
		want string
		all  []attempt
		res  watchResult
	}{
		{"up: nothing yet", "up", []attempt{bad(0), bad(2)}, watchResult{Want: "up", Attempts: 2}},
		// An early attempt that waited for ARP finishes first: the earliest
		// completion counts, whatever the start order.
		{"up: earliest completion", "up", []attempt{bad(0), ok(4, 9), ok(2, 8)},
			watchResult{Want: "up", Reached: true, Attempts: 3, FirstOK: 8}},
		{"down: not up yet", "down", []attempt{bad(0)}, watchResult{Want: "down", Attempts: 1}},
		{"down: still up", "down", []attempt{ok(0, 1), ok(2, 3)}, watchResult{Want: "down", Attempts: 2, FirstOK: 1, LastOK: 2}},
		// A failure before a later success is noise, not the VIP leaving.
		{"down: first failure after the last success", "down",
			[]attempt{ok(0, 1), bad(2), ok(4, 5), bad(8), bad(6), bad(10)},
			watchResult{Want: "down", Reached: true, Attempts: 6, FirstOK: 1, LastOK: 4, DownAt: 6}},
		{"gap: no return yet", "gap", []attempt{ok(0, 1), bad(2), bad(4)},
			watchResult{Want: "gap", Attempts: 3, FirstOK: 1}},
		{"gap", "gap", []attempt{ok(0, 1), ok(2, 3), bad(4), bad(6), ok(8, 12), ok(10, 11)},
			watchResult{Want: "gap", Reached: true, Attempts: 6, FirstOK: 1, LastOK: 2, DownAt: 4, UpAgain: 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evaluate(tt.want, tt.all); got != tt.res {
				t.Fatalf("got %+v\nwant %+v", got, tt.res)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := quantile(d, c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %v, want 0", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:80":  "",
		"[::1]:80":      "",
		"10.0.0.1:80":   `-addr: "10.0.0.1" is not a loopback address`,
		"example.com:1": `-addr: "example.com" is not a loopback address`,
		"127.0.0.1":     "-addr: address 127.0.0.1: missing port in address",
	} {
		got := ""
		if err := checkLoopback(addr); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("checkLoopback(%q) = %q, want %q", addr, got, want)
		}
	}
}
