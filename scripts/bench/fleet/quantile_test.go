package fleet

import (
	"errors"
	"testing"
	"time"
)

func TestQuantileAndSummary(t *testing.T) {
	var l Latencies
	for i := 1; i <= 100; i++ {
		l.add(time.Duration(i)*time.Millisecond, nil)
	}
	l.add(time.Second, errors.New("503")) // failures are counted, not timed
	n, failed, p50, p99 := l.Summary()
	if n != 100 || failed != 1 || p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Fatalf("Summary = %d %d %s %s, want 100 1 50ms 99ms", n, failed, p50, p99)
	}
	if Quantile(nil, 0.5) != 0 {
		t.Fatal("quantile of nothing is not 0")
	}
	if got := Quantile([]time.Duration{7}, 0.99); got != 7 {
		t.Fatalf("quantile of one = %s", got)
	}
}
