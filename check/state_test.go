package check

import "testing"

func TestCounter(t *testing.T) {
	// Each step: result fed in ('+' success, '-' failure) and the state
	// expected afterwards (u unknown, H healthy, X unhealthy).
	tests := []struct {
		name       string
		rise, fall int
		results    string
		states     string
	}{
		{"rise 2 from unknown", 2, 3, "++", "uH"},
		{"rise 1 from unknown", 1, 3, "+", "H"},
		{"first failure decides unknown", 2, 3, "-", "X"},
		{"failure resets rise while unknown", 2, 3, "+-++", "uXXH"},
		{"fall 3", 2, 3, "++---", "uHHHX"},
		{"success resets fall", 2, 3, "++--+--", "uHHHHHH"},
		{"fall 1", 2, 1, "++-", "uHX"},
		{"rise after fall", 2, 3, "++---+-++", "uHHHXXXXH"},
		{"rise 3", 3, 2, "--+++", "XXXXH"},
		{"flapping never rises", 2, 2, "-+-+-+", "XXXXXX"},
		{"flapping never falls", 1, 2, "+-+-+-", "HHHHHH"},
	}
	code := map[health]byte{unknown: 'u', healthy: 'H', unhealthy: 'X'}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := counter{rise: tt.rise, fall: tt.fall}
			got := make([]byte, 0, len(tt.results))
			changes := 0
			prev := c.state
			for i := range len(tt.results) {
				changed := c.observe(tt.results[i] == '+')
				if changed != (c.state != prev) {
					t.Fatalf("step %d: observe reported changed=%v, state %v → %v", i, changed, prev, c.state)
				}
				if changed {
					changes++
				}
				prev = c.state
				got = append(got, code[c.state])
			}
			if string(got) != tt.states {
				t.Errorf("states = %s, want %s", got, tt.states)
			}
			var fails uint64
			for i := range len(tt.results) {
				if tt.results[i] == '-' {
					fails++
				}
			}
			if c.runs != uint64(len(tt.results)) || c.failures != fails {
				t.Errorf("runs, failures = %d, %d; want %d, %d", c.runs, c.failures, len(tt.results), fails)
			}
		})
	}
}

func TestCounterConsecutive(t *testing.T) {
	c := counter{rise: 2, fall: 3}
	for _, ok := range []bool{true, true, false, false} {
		c.observe(ok)
	}
	if c.succ != 0 || c.fail != 2 {
		t.Errorf("succ, fail = %d, %d; want 0, 2", c.succ, c.fail)
	}
	c.observe(true)
	if c.succ != 1 || c.fail != 0 {
		t.Errorf("succ, fail = %d, %d; want 1, 0", c.succ, c.fail)
	}
}
