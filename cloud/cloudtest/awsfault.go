package cloudtest

import (
	"net/http"
	"sync"
	"time"
)

// AWSFault is one injected failure: the fake answers with HTTP Status and,
// when Code is set, the protocol's error document carrying Code and Message.
// Code "" with Status 0 means "drop the connection without answering".
type AWSFault struct {
	Status  int
	Code    string
	Message string
}

// AWSFaults are the fault-injection knobs shared by the AWS fakes (EC2,
// Route53, IMDSv2). Keys are operation names as the fake reports them
// ("ReplaceRoute", "GetChange", "token", "meta-data", ...); "*" matches
// every operation. Safe for concurrent use.
type AWSFaults struct {
	mu    sync.Mutex
	errs  map[string][]AWSFault
	delay map[string]time.Duration
	slow  map[string][]time.Duration
	calls map[string]int
}

// FailNext makes the next n requests of op fail with f.
func (f *AWSFaults) FailNext(op string, n int, fault AWSFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errs == nil {
		f.errs = map[string][]AWSFault{}
	}
	for range n {
		f.errs[op] = append(f.errs[op], fault)
	}
}

// SetDelay makes every request of op wait d before it is answered (a slow
// service); 0 removes the delay.
func (f *AWSFaults) SetDelay(op string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delay == nil {
		f.delay = map[string]time.Duration{}
	}
	f.delay[op] = d
}

// DelayNext makes only the next n requests of op wait d (a transient slow
// response, e.g. to exercise a client's per-call timeout).
func (f *AWSFaults) DelayNext(op string, n int, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.slow == nil {
		f.slow = map[string][]time.Duration{}
	}
	for range n {
		f.slow[op] = append(f.slow[op], d)
	}
}

// Calls returns how many requests of op arrived ("*": all), faulted or not.
func (f *AWSFaults) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// begin counts a request of op, applies its delay and returns the fault to
// answer with, if any. It returns false when the client went away during
// the delay.
func (f *AWSFaults) begin(r *http.Request, op string) (*AWSFault, bool) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	f.calls["*"]++
	d := f.delay[op] + f.delay["*"]
	for _, k := range []string{op, "*"} {
		if q := f.slow[k]; len(q) > 0 {
			d += q[0]
			f.slow[k] = q[1:]
			break
		}
	}
	var fault *AWSFault
	for _, k := range []string{op, "*"} {
		if q := f.errs[k]; len(q) > 0 {
			fault = &q[0]
			f.errs[k] = q[1:]
			break
		}
	}
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return nil, false
		case <-t.C:
		}
	}
	return fault, true
}

// awsHijackClose drops the connection without a response (a reset as the
// client sees it).
func awsHijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
