package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", ":7000", "listen address")
	life := fs.Duration("for", 10*time.Minute, "exit after this long")
	_ = fs.Parse(args)
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	time.AfterFunc(*life, func() { l.Close() })
	for {
		c, err := l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			time.Sleep(time.Millisecond)
			continue
		}
		c.Close()
	}
}

// attempt is one connect; times are Unix nanoseconds of this host's clock
// (the watcher and lbhc run on one machine, so their wall clocks agree).
type attempt struct {
	start, end int64
	ok         bool
}

// watchResult: all times in Unix ns, 0 when not observed.
//
//	FirstOK    completion of the first successful connect   (want up)
//	LastOK     start of the last successful connect before DownAt
//	DownAt     start of the first failed connect after every earlier success (want down)
//	UpAgain    completion of the first successful connect started after DownAt (want gap)
type watchResult struct {
	Want     string `json:"want"`
	Reached  bool   `json:"reached"`
	Attempts int    `json:"attempts"`
	FirstOK  int64  `json:"first_ok_ns"`
	LastOK   int64  `json:"last_ok_start_ns"`
	DownAt   int64  `json:"down_ns"`
	UpAgain  int64  `json:"up_again_ns"`
}

func runWatch(args []string) error {
	fs := flag.NewFlagSet("watch", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port to connect to (loopback or a private address in a test namespace)")
	want := fs.String("want", "up", "up: until a connect succeeds; down: success, then failure; gap: success, failure, success")
	every := fs.Duration("interval", 2*time.Millisecond, "start one connect attempt this often")
	timeout := fs.Duration("timeout", 200*time.Millisecond, "a connect not done by then counts as failed")
	limit := fs.Duration("for", 15*time.Second, "give up after this long")
	ready := fs.String("ready", "", "create this file once the first attempt has been started")
	_ = fs.Parse(args)
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !(ip.IsLoopback() || ip.IsPrivate()) {
		return fmt.Errorf("-addr: %q is neither loopback nor private", host)
	}
	if *want != "up" && *want != "down" && *want != "gap" {
		return fmt.Errorf("-want: up, down or gap, got %q", *want)
	}
	if *every < 100*time.Microsecond || *limit > 2*time.Minute {
		return errors.New("need -interval >= 100us and -for <= 2m")
	}

	var (
		mu  sync.Mutex
		all []attempt
		wg  sync.WaitGroup
	)
	d := net.Dialer{Timeout: *timeout}
	tick := time.NewTicker(*every)
	defer tick.Stop()
	end := time.Now().Add(*limit)
	var doneAt time.Time // when the pattern was seen; we stop one timeout later
	for now := time.Now(); now.Before(end); now = <-tick.C {
		if !doneAt.IsZero() && now.After(doneAt.Add(*timeout+20*time.Millisecond)) {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := attempt{start: time.Now().UnixNano()}
			c, err := d.Dial("tcp", *addr)
			a.end = time.Now().UnixNano()
			if err == nil {
				a.ok = true
				c.Close()
			}
			mu.Lock()
			all = append(all, a)
			mu.Unlock()
		}()
		if *ready != "" {
			_ = os.WriteFile(*ready, nil, 0o644)
			*ready = ""
		}
		if doneAt.IsZero() {
			mu.Lock()
			r := evaluate(*want, all)
			mu.Unlock()
			if r.Reached {
				doneAt = time.Now()
			}
		}
	}
	wg.Wait()
	r := evaluate(*want, all)
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return err
	}
	if !r.Reached {
		return fmt.Errorf("pattern %q not seen within %s", *want, *limit)
	}
	return nil
}

// evaluate finds the transitions in the attempts seen so far (any order).
func evaluate(want string, all []attempt) watchResult {
	r := watchResult{Want: want, Attempts: len(all)}
	for _, a := range all {
		if a.ok && (r.FirstOK == 0 || a.end < r.FirstOK) {
			r.FirstOK = a.end
		}
	}
	if want == "up" {
		r.Reached = r.FirstOK != 0
		return r
	}
	// DownAt: the earliest failed start after which nothing that started
	// succeeded. Only failures that started after some success count.
	var lastOK int64
	for _, a := range all {
		if a.ok {
			lastOK = max(lastOK, a.start)
		}
	}
	if lastOK == 0 {
		return r
	}
	downAt, lastOKBefore := int64(0), int64(0)
	if want == "down" {
		for _, a := range all {
			if !a.ok && a.start > lastOK && (downAt == 0 || a.start < downAt) {
				downAt = a.start
			}
		}
		r.DownAt, r.LastOK, r.Reached = downAt, lastOK, downAt != 0
		return r
	}
	// gap: the first failure after the first success, the last success
	// that started before it, and the first success that started after it.
	for _, a := range all {
		if !a.ok && a.start > r.FirstOK && (downAt == 0 || a.start < downAt) {
			downAt = a.start
		}
	}
	if downAt == 0 {
		return r
	}
	for _, a := range all {
		if a.ok && a.start < downAt {
			lastOKBefore = max(lastOKBefore, a.start)
		}
		if a.ok && a.start > downAt && (r.UpAgain == 0 || a.end < r.UpAgain) {
			r.UpAgain = a.end
		}
	}
	r.DownAt, r.LastOK, r.Reached = downAt, lastOKBefore, r.UpAgain != 0
	return r
}
