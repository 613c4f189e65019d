package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult is one load run; latencies in microseconds.
type loadResult struct {
	Label       string  `json:"label"`
	Mode        string  `json:"mode"`
	Concurrency int     `json:"concurrency"`
	OK          int     `json:"ok"`
	OKInWindow  int     `json:"ok_in_window"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	Seconds     float64 `json:"seconds"`
	ConnsPerSec float64 `json:"conns_per_sec"` // answered within -duration / -duration (or until -max)
	P50us       float64 `json:"p50_us"`
	P90us       float64 `json:"p90_us"`
	P99us       float64 `json:"p99_us"`
	MaxUs       float64 `json:"max_us"`
}

// httpRequest is what an HTTP health checker sends; one request per
// connection, as the LB probes do.
const httpRequest = "GET /health HTTP/1.1\r\nHost: probe\r\nUser-Agent: probeload\r\nConnection: close\r\n\r\n"

func runLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port to load (loopback only)")
	mode := fs.String("mode", "tcp", "tcp: connect, read to EOF, close; http: also send a GET and expect 200")
	conc := fs.Int("c", 1, "concurrent connections")
	dur := fs.Duration("duration", 2*time.Second, "stop after this long")
	maxConns := fs.Int("max", 20000, "stop after this many connections")
	timeout := fs.Duration("timeout", 3*time.Second, "deadline of one connection (dial + answer)")
	label := fs.String("label", "", "name printed with the result")
	warm := fs.Int("warmup", 50, "connections made and discarded before measuring")
	_ = fs.Parse(args)
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	if *mode != "tcp" && *mode != "http" {
		return fmt.Errorf("-mode: want tcp or http, got %q", *mode)
	}
	if *conc < 1 || *conc > 1024 || *maxConns < 1 || *dur <= 0 || *dur > time.Minute {
		return errors.New("need 1 <= -c <= 1024, -max >= 1, 0 < -duration <= 1m")
	}
	for range *warm {
		_ = oneConn(*addr, *mode, *timeout)
	}

	var (
		issued   atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		nErr     int
		inWin    int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(*dur)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, *maxConns / *conc + 1)
			var errs, win int
			var first string
			for time.Now().Before(stop) && issued.Add(1) <= int64(*maxConns) {
				t0 := time.Now()
				err := oneConn(*addr, *mode, *timeout)
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				t1 := time.Now()
				mine = append(mine, t1.Sub(t0))
				if !t1.After(stop) {
					win++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			nErr += errs
			inWin += win
			if firstErr == "" {
				firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	// Throughput counts answers within the window, so connections stuck
	// in a full backlog until -timeout do not stretch it; they show up
	// in the latency tail and as errors.
	window := min(elapsed, *dur)
	slices.Sort(lat)
	r := loadResult{
		Label: *label, Mode: *mode, Concurrency: *conc, OK: len(lat), OKInWindow: inWin, Errors: nErr, FirstError: firstErr,
		Seconds:     elapsed.Seconds(),
		ConnsPerSec: float64(inWin) / window.Seconds(),
		P50us:       us(quantile(lat, 0.50)), P90us: us(quantile(lat, 0.90)), P99us: us(quantile(lat, 0.99)),
	}
	if len(lat) > 0 {
		r.MaxUs = us(lat[len(lat)-1])
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// oneConn is one probe as a load balancer makes it: connect, (http: send
// the request), read the answer until the server closes, close.
func oneConn(addr, mode string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if mode == "http" {
		if _, err := io.WriteString(c, httpRequest); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if mode == "http" && !bytes.HasPrefix(b, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("answer is not 200: %.40q", b)
	}
	return nil
}

// quantile of sorted d (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(q*float64(len(d))+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// checkLoopback refuses any target but loopback: load is only ever run
// against a local listener.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr: %q is not a loopback address", host)
	}
	return nil
}
