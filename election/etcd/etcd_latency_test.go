package etcd_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/etcd"
)

// delayProxy forwards TCP from a loopback port to target and delivers every
// chunk delay after it was read, in order, in each direction: a link with
// that one-way latency and ample bandwidth (chunks are pipelined, not
// delayed one after another).
type delayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func newDelayProxy(t *testing.T, target string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, target: target, delay: delay}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *delayProxy) Addr() string { return p.ln.Addr().String() }

func (p *delayProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

type chunk struct {
	b  []byte
	at time.Time
}

func (p *delayProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	for range q { // let the reader finish
	}
}

// At default timings (lease-ttl 15 s, renew-deadline 10 s, retry-period
// 2 s) a leader whose path to etcd has 500 ms of latency each way (1 s
// round trip) keeps leadership for 60 s without a single demotion, renewing
// once per renew interval, and each renewal costs one round trip, not two.
func TestEtcdLeaderKeepsLeaseAt500msLatency(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("60 s test; run without -short")
	}
	const oneWay = 500 * time.Millisecond
	target := etcdTarget(t)
	p := newDelayProxy(t, target, oneWay)
	cli, err := etcd.NewEtcdClient(etcd.EtcdClientConfig{Endpoints: []string{"http://" + p.Addr()}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	b, err := etcd.NewEtcdBackend(ctx, cli, etcdPrefix(), "latency", "slow-link", election.DefaultLeaseTTL)
	cancel()
	if err != nil {
		cli.Close()
		t.Fatal(err)
	}
	defer b.Close()
	tb := &timedRenewals{Backend: b}
	reg := prometheus.NewRegistry()
	timing := election.Config{NodeID: "slow-link", LeaseTTL: election.DefaultLeaseTTL,
		RenewDeadline: election.DefaultRenewDeadline, RetryPeriod: election.DefaultRetryPeriod}
	eng, err := election.NewEngine(timing, tb, election.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go eng.Run(runCtx)

	var l *election.Lease
	select {
	case ev := <-eng.Events():
		if ev.Kind != election.Elected {
			t.Fatalf("first event %v", ev.Kind)
		}
		l = ev.Lease
	case <-time.After(20 * time.Second):
		t.Fatal("not elected within 20 s over the slow link")
	}
	elected := time.Now()
	for time.Since(elected) < 60*time.Second {
		select {
		case ev := <-eng.Events():
			t.Fatalf("%v %s after %s: %s", ev.Kind, "event", time.Since(elected).Round(time.Millisecond), ev.Reason)
		case <-time.After(100 * time.Millisecond):
		}
		if !l.Valid() {
			t.Fatalf("leadership lapsed after %s", time.Since(elected).Round(time.Millisecond))
		}
	}
	tb.mu.Lock()
	count, mean, worst := tb.count, tb.sum/time.Duration(max(tb.count, 1)), tb.worst
	tb.mu.Unlock()
	// One renewal per renew interval (7.5 s), minus slack for a loaded host.
	if count < int(60*time.Second/election.RenewInterval(timing))-2 {
		t.Fatalf("only %d renewals in 60 s", count)
	}
	rtt := 2 * oneWay
	t.Logf("%d renewals, mean %s, worst %s at a %s round trip", count, mean.Round(time.Millisecond), worst.Round(time.Millisecond), rtt)
	if mean > rtt*8/5 {
		t.Fatalf("mean renewal took %s at a %s round trip: more than one round trip each", mean, rtt)
	}
}

// timedRenewals measures the backend's renewals (TryAcquire with renew).
type timedRenewals struct {
	election.Backend
	mu    sync.Mutex
	count int
	sum   time.Duration
	worst time.Duration
}

func (b *timedRenewals) TryAcquire(ctx context.Context, renew bool) (election.State, error) {
	start := time.Now()
	st, err := b.Backend.TryAcquire(ctx, renew)
	if renew && err == nil {
		d := time.Since(start)
		b.mu.Lock()
		b.count, b.sum, b.worst = b.count+1, b.sum+d, max(b.worst, d)
		b.mu.Unlock()
	}
	return st, err
}
