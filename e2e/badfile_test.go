//go:build linux

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The real binary with a bad lease file
// in place. Each bad file is refused (the node never leads, /readyz 503,
// lbhc_lease_backend_errors_total rises for the reason), the process stays
// within 50 MiB RSS (the 40 GB sparse file included), a FIFO never wedges
// the engine, and the node leads soon after a good file returns.
func TestBadLeaseFileRefusedAndRecovered(t *testing.T) {
	n := NewNet(t, "n1")
	h := n.Hosts[0]
	dir := t.TempDir()
	lease := filepath.Join(dir, "group.lease")
	node := StartNode(t, h, append([]string{"--election", "file", "--lease-file", lease}, timingFast.Args()...)...)
	hc := nsHTTP(t, h.NS)
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := hc.Get("http://127.0.0.1:9102/readyz"); err == nil {
			resp.Body.Close()
			break
		} else if time.Now().After(end) {
			t.Fatalf("admin API not up: %v", err)
		}
	}
	good := `{"holder":"","term":%d,"lease_duration_ms":3000,"version":%d}` + "\n"
	term := uint64(0)
	for i, bad := range []struct {
		name, reason string
		make         func() error
	}{
		{"40 GB sparse file", "unusable_file", func() error {
			f, err := os.Create(lease)
			if err == nil {
				err = f.Truncate(40 << 30)
				f.Close()
			}
			return err
		}},
		{"FIFO", "unusable_file", func() error { return unix.Mkfifo(lease, 0o600) }},
		{"symlink to another file", "unusable_file", func() error {
			other := filepath.Join(dir, "other")
			if err := os.WriteFile(other, []byte(fmt.Sprintf(good, 1, 1)), 0o600); err != nil {
				return err
			}
			return os.Symlink(other, lease)
		}},
		{"null", "corrupt", func() error { return os.WriteFile(lease, []byte("null\n"), 0o600) }},
		{"corrupt", "corrupt", func() error { return os.WriteFile(lease, []byte("{\"holder\":"), 0o600) }},
		{"directory", "unusable_file", func() error { return os.Mkdir(lease, 0o700) }},
	} {
		t.Run(bad.name, func(t *testing.T) {
			node.Signal(unix.SIGSTOP) // swap the file while the node cannot act
			os.RemoveAll(lease)
			err := bad.make()
			node.Signal(unix.SIGCONT)
			if err != nil {
				t.Fatal(err)
			}
			before := metric(t, hc, `lbhc_lease_backend_errors_total{reason="`+bad.reason+`"}`)
			// Within two retry periods (plus a leader's renew deadline, if
			// it led on the previous good file): refused and seen.
			deadline := time.Now().Add(timingFast.Renew + 2*timingFast.Retry + time.Second)
			for {
				code := healthz(t, hc)
				after := metric(t, hc, `lbhc_lease_backend_errors_total{reason="`+bad.reason+`"}`)
				if code == http.StatusServiceUnavailable && after > before {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: /readyz %d, errors{%s} %v -> %v; want 503 and a rising count", bad.name, code, bad.reason, before, after)
				}
				time.Sleep(100 * time.Millisecond)
			}
			// It stays refused: several retry periods, never leading.
			for end := time.Now().Add(4 * timingFast.Retry); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				if s, err := node.Status(); err != nil || s.Role == "leader" {
					t.Fatalf("%s: status %+v, %v; want a follower", bad.name, s, err)
				}
			}
			if rss := vmRSS(t, node); rss > 50<<20 {
				t.Fatalf("%s: RSS %d MiB, want <= 50 MiB", bad.name, rss>>20)
			} else {
				t.Logf("%s refused; RSS %.1f MiB", bad.name, float64(rss)/(1<<20))
			}
			// A good record comes back: the node leads with a higher term.
			os.RemoveAll(lease)
			term += 10
			if err := os.WriteFile(lease, []byte(fmt.Sprintf(good, term, i+1)), 0o600); err != nil {
				t.Fatal(err)
			}
			end := time.Now().Add(2*timingFast.Retry + 5*time.Second)
			for {
				s, err := node.Status()
				if err == nil && s.Role == "leader" && healthz(t, hc) == http.StatusOK {
					if s.Term <= term {
						t.Fatalf("leads with term %d after a record of term %d", s.Term, term)
					}
					term = s.Term
					break
				}
				if time.Now().After(end) {
					t.Fatalf("not leading %s after a good file returned: %+v %v", 2*timingFast.Retry+5*time.Second, s, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// nsHTTP is a client whose connections are made inside ns.
func nsHTTP(t *testing.T, ns string) *http.Client {
	dial := dialer(t, ns)
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) { return dial(addr, 2*time.Second) }}}
}

func healthz(t *testing.T, hc *http.Client) int {
	resp, err := hc.Get("http://127.0.0.1:9102/readyz")
	if err != nil {
		t.Fatalf("/readyz: %v (the agent must answer whatever the lease file is)", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// metric returns the value of one series of /metrics (0 when absent).
func metric(t *testing.T, hc *http.Client, series string) float64 {
	resp, err := hc.Get("http://127.0.0.1:9102/metrics")
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, v)
			}
			return f
		}
	}
	return 0
}

var vmRSSLine = regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`)

// vmRSS is the node process's resident set in bytes.
func vmRSS(t *testing.T, n *Node) int64 {
	n.mu.Lock()
	pid := n.cmd.Process.Pid
	n.mu.Unlock()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := vmRSSLine.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}
