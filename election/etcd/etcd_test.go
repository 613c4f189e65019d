package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/electiontest"
	"github.com/lbhc/lbhc/election/etcd"
	"github.com/lbhc/lbhc/itest"
)

// etcdTTL is whole seconds, as etcd leases require.
var etcdTiming = election.Config{LeaseTTL: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond}

// etcdTarget returns host:port of the first test etcd endpoint.
func etcdTarget(t *testing.T) string {
	t.Helper()
	eps := itest.Env(t, "LBHC_TEST_ETCD_ENDPOINTS")
	first := strings.TrimSpace(strings.Split(eps, ",")[0])
	return strings.TrimPrefix(strings.TrimPrefix(first, "http://"), "https://")
}

// etcdPrefix keeps this run's keys apart from other runs on a shared etcd.
func etcdPrefix() string { return fmt.Sprintf("/lbhc-test-%d", time.Now().UnixNano()) }

func directEtcd(t *testing.T, target string) *clientv3.Client {
	t.Helper()
	cli, err := etcd.NewEtcdClient(etcd.EtcdClientConfig{Endpoints: []string{"http://" + target}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func newEtcdBackend(t *testing.T, endpoint, prefix, lease, id string, ttl time.Duration) *etcd.EtcdBackend {
	t.Helper()
	cli, err := etcd.NewEtcdClient(etcd.EtcdClientConfig{Endpoints: []string{"http://" + endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := etcd.NewEtcdBackend(ctx, cli, prefix, lease, id, ttl)
	if err != nil {
		cli.Close()
		t.Fatalf("NewEtcdBackend(%s): %v", id, err)
	}
	return b
}

func TestConformanceEtcd(t *testing.T) {
	t.Parallel()
	target := etcdTarget(t)
	prefix := etcdPrefix()
	steal := directEtcd(t, target)
	electiontest.Run(t, electiontest.Suite{
		Timing: etcdTiming,
		New: func(t *testing.T, lease, id string) electiontest.Candidate {
			p := newCutProxy(t, target)
			return electiontest.Candidate{Backend: newEtcdBackend(t, p.Addr(), prefix, lease, id, etcdTiming.LeaseTTL), SetReachable: p.SetReachable}
		},
		// Steal replaces the key's lease with a stranger's (a long one, so
		// nobody takes it back during the test).
		Steal: func(t *testing.T, lease string) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			key := etcd.EtcdKey(prefix, lease)
			resp, err := steal.Get(ctx, key)
			if err != nil || len(resp.Kvs) == 0 {
				t.Fatalf("steal: get %s: %v (kvs %d)", key, err, len(resp.Kvs))
			}
			g, err := steal.Grant(ctx, 60)
			if err != nil {
				t.Fatalf("steal: grant: %v", err)
			}
			t.Cleanup(func() { _, _ = steal.Revoke(context.Background(), g.ID) })
			tr, err := steal.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(key), "=", resp.Kvs[0].CreateRevision)).
				Then(clientv3.OpPut(key, "stranger", clientv3.WithLease(g.ID))).Commit()
			if err != nil || !tr.Succeeded {
				t.Fatalf("steal: put: %v (succeeded %v)", err, tr != nil && tr.Succeeded)
			}
		},
		Delete: func(t *testing.T, lease string) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := steal.Delete(ctx, etcd.EtcdKey(prefix, lease)); err != nil {
				t.Fatalf("delete key: %v", err)
			}
		},
	})
}

// TestEtcdFollowerSeesHolderAndWakesOnRelease: a follower reports the
// holder and its term (the key's create revision); a release wakes it
// through the watch and its grant has a higher term.
func TestEtcdFollowerSeesHolderAndWakesOnRelease(t *testing.T) {
	t.Parallel()
	target := etcdTarget(t)
	prefix := etcdPrefix()
	a := newEtcdBackend(t, target, prefix, "g", "node-a", 5*time.Second)
	defer a.Close()
	b := newEtcdBackend(t, target, prefix, "g", "node-b", 5*time.Second)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The constructors' write probes wrote nothing.
	if r, err := directEtcd(t, target).Get(ctx, etcd.EtcdKey(prefix, "g")); err != nil || len(r.Kvs) != 0 {
		t.Fatalf("key after the start-up probes: %v, %d kvs; want none", err, len(r.Kvs))
	}
	sa, err := acquireAfterStartWait(ctx, a)
	if err != nil || !sa.Held || sa.Leader != "node-a" || sa.Term == 0 {
		t.Fatalf("a acquire: %+v, %v", sa, err)
	}
	kv, err := directEtcd(t, target).Get(ctx, etcd.EtcdKey(prefix, "g"))
	if err != nil || len(kv.Kvs) != 1 {
		t.Fatalf("get key: %v", err)
	}
	if got := uint64(kv.Kvs[0].CreateRevision); got != sa.Term || string(kv.Kvs[0].Value) != "node-a" {
		t.Fatalf("key %q create revision %d, term %d", kv.Kvs[0].Value, got, sa.Term)
	}
	sb, err := b.TryAcquire(ctx, false)
	if err != nil || sb.Held || sb.Leader != "node-a" || sb.Term != sa.Term {
		t.Fatalf("b acquire while a holds: %+v, %v", sb, err)
	}
	if _, err := b.TryAcquire(ctx, true); !errors.Is(err, election.ErrLeaseLost) {
		t.Fatalf("b renew without a grant: %v, want ErrLeaseLost", err)
	}
	if s, err := a.TryAcquire(ctx, true); err != nil || !s.Held || s.Term != sa.Term {
		t.Fatalf("a renew: %+v, %v", s, err)
	}
	// Drain wake-ups from the watch's start.
	drain(b.Changes())
	released := time.Now()
	if err := a.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	select {
	case <-b.Changes():
		t.Logf("follower woken %s after the release", time.Since(released).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		t.Fatal("follower not woken within 2s of the release")
	}
	sb, err = b.TryAcquire(ctx, false)
	if err != nil || !sb.Held || sb.Term <= sa.Term {
		t.Fatalf("b acquire after release: %+v, %v (old term %d)", sb, err, sa.Term)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("second release by a non-holder: %v", err)
	}
	if s, err := b.TryAcquire(ctx, true); err != nil || !s.Held {
		t.Fatalf("b renew after a's no-op release: %+v, %v", s, err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// With failsafe the grant's etcd lease lasts lease-ttl + the promise time
// (whole seconds, rounded up), so nodes outside the peer set wait it out.
func TestEtcdExtendTTLForFailsafe(t *testing.T) {
	t.Parallel()
	target := etcdTarget(t)
	prefix := etcdPrefix()
	a := newEtcdBackend(t, target, prefix, "g", "node-a", 5*time.Second)
	defer a.Close()
	election.ExtendRecordTTL(a, 2500*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := acquireAfterStartWait(ctx, a); err != nil || !st.Held {
		t.Fatalf("acquire: %+v %v", st, err)
	}
	cli := directEtcd(t, target)
	kv, err := cli.Get(ctx, etcd.EtcdKey(prefix, "g"))
	if err != nil || len(kv.Kvs) != 1 {
		t.Fatalf("get key: %v", err)
	}
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(kv.Kvs[0].Lease))
	if err != nil || ttl.GrantedTTL != 8 {
		t.Fatalf("etcd lease granted TTL %d (%v), want 5 + 3 (2.5 s rounded up) = 8", ttl.GrantedTTL, err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEtcdRestartWaitsForOwnStaleKey: a second process with the same node
// id (a restart while the old lease lives, or a VM cloned with the same
// hostname) does not take the key from the live lease; the process that
// holds it re-acquires with a new term.
func TestEtcdRestartWaitsForOwnStaleKey(t *testing.T) {
	t.Parallel()
	target := etcdTarget(t)
	prefix := etcdPrefix()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old := newEtcdBackend(t, target, prefix, "g", "node-a", 5*time.Second)
	defer old.Close()
	s1, err := acquireAfterStartWait(ctx, old)
	if err != nil || !s1.Held {
		t.Fatalf("first acquire: %+v, %v", s1, err)
	}
	restarted := newEtcdBackend(t, target, prefix, "g", "node-a", 5*time.Second)
	defer restarted.Close()
	s2, err := restarted.TryAcquire(ctx, false)
	if err != nil || s2.Held || s2.Leader != "node-a" || s2.Term != s1.Term {
		t.Fatalf("same id, other process: %+v, %v; want not held, leader node-a term %d", s2, err, s1.Term)
	}
	if _, err := old.TryAcquire(ctx, true); err != nil {
		t.Fatalf("holder renew after the other process looked: %v", err)
	}
	// A new grant by the holding process always gets a new term.
	s3, err := old.TryAcquire(ctx, false)
	if err != nil || !s3.Held || s3.Term <= s1.Term {
		t.Fatalf("re-acquire: %+v, %v (previous term %d)", s3, err, s1.Term)
	}
	_ = old.Release(ctx)
}

// TestEtcdUnreachableAtStart: nothing listens on the endpoint, so the
// constructor fails within its context and names the flag.
func TestEtcdUnreachableAtStart(t *testing.T) {
	t.Parallel()
	port := itest.FreePort(t)
	ep := fmt.Sprintf("http://127.0.0.1:%d", port)
	cli, err := etcd.NewEtcdClient(etcd.EtcdClientConfig{Endpoints: []string{ep}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = etcd.NewEtcdBackend(ctx, cli, "/lbhc", "g", "n1", 15*time.Second)
	cli.Close()
	if err == nil {
		t.Fatal("no error for an endpoint nobody listens on")
	}
	want := "etcd: no endpoint of --etcd-endpoints (" + ep + ") answered: "
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q, want prefix %q", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s, want about the 1s context", d)
	}
}

// TestEtcdBadTTL: the constructor rejects a TTL etcd cannot express before
// it sends anything.
func TestEtcdBadTTL(t *testing.T) {
	cli, err := etcd.NewEtcdClient(etcd.EtcdClientConfig{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	_, err = etcd.NewEtcdBackend(context.Background(), cli, "/lbhc", "g", "n1", 1500*time.Millisecond)
	var ce *election.ConfigError
	if !errors.As(err, &ce) || err.Error() != "invalid --lease-ttl: etcd leases last whole seconds (>= 1s), got 1.5s" {
		t.Fatalf("err = %v", err)
	}
}

func drain(c <-chan struct{}) {
	for range 10 {
		select {
		case <-c:
		default:
			return
		}
	}
}

// cutProxy forwards TCP from a loopback port to target. Cut closes every
// connection and refuses new ones (accepts and closes them at once), as a
// lost route with resets would.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// SetReachable restores (true) or cuts (false) the path.
func (p *cutProxy) SetReachable(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = !ok
	if p.cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.SetReachable(false)
	p.wg.Wait()
}

// TestEtcdAuth runs its own etcd (auth is cluster-wide, so not on the
// shared one): a wrong password and a user without access to the prefix are
// ConfigErrors naming --etcd-username; the right user works.
func TestEtcdAuth(t *testing.T) {
	t.Parallel()
	srv := itest.StartEtcd(t, "127.0.0.1")
	itest.WaitTCP(t, srv.Addr(), 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin := directEtcd(t, srv.Addr())
	for _, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.UserAdd(ctx, "nobody", "nobodypw"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "ro"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "ro", "/lbhc/", clientv3.GetPrefixRangeEnd("/lbhc/"), clientv3.PermissionType(clientv3.PermRead))
			return err
		},
		func() error { _, err := admin.UserAdd(ctx, "reader", "readerpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "reader", "ro"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("set up auth: %v", err)
		}
	}
	dir := t.TempDir()
	pwFile := func(pw string) string {
		f := filepath.Join(dir, pw)
		if err := os.WriteFile(f, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cfg := func(user, pw string) etcd.EtcdClientConfig {
		return etcd.EtcdClientConfig{Endpoints: []string{srv.URL()}, Username: user, PasswordFile: pwFile(pw), DialTimeout: 5 * time.Second}
	}

	// No credentials at all.
	cli, err := etcd.NewEtcdClient(etcd.EtcdClientConfig{Endpoints: []string{srv.URL()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = etcd.NewEtcdBackend(ctx, cli, "/lbhc", "g", "n1", 3*time.Second)
	cli.Close()
	if want := "invalid --etcd-username: etcd has authentication enabled: set --etcd-username and --etcd-password-file"; err == nil || err.Error() != want {
		t.Fatalf("no credentials: %v\nwant %s", err, want)
	}

	_, err = etcd.NewEtcdClient(cfg("root", "wrong"))
	var ce *election.ConfigError
	if !errors.As(err, &ce) || ce.Flag != "etcd-username" || !strings.Contains(err.Error(), "etcd rejected the user name or password") {
		t.Fatalf("wrong password: %v", err)
	}

	cli, err = etcd.NewEtcdClient(cfg("nobody", "nobodypw"))
	if err != nil {
		t.Fatalf("client for a user without roles: %v", err)
	}
	_, err = etcd.NewEtcdBackend(ctx, cli, "/lbhc", "g", "n1", 3*time.Second)
	cli.Close()
	want := `invalid --etcd-username: not allowed to read "/lbhc/g": grant the user a read-write role on the --etcd-prefix range: etcdserver: permission denied`
	if err == nil || err.Error() != want {
		t.Fatalf("user without access: %v\nwant %s", err, want)
	}

	cli, err = etcd.NewEtcdClient(cfg("reader", "readerpw"))
	if err != nil {
		t.Fatalf("client for a read-only user: %v", err)
	}
	_, err = etcd.NewEtcdBackend(ctx, cli, "/lbhc", "g", "n1", 3*time.Second)
	cli.Close()
	want = `invalid --etcd-username: not allowed to write "/lbhc/g": grant the user a read-write role on the --etcd-prefix range: etcdserver: permission denied`
	if err == nil || err.Error() != want {
		t.Fatalf("read-only user: %v\nwant %s", err, want)
	}

	cli, err = etcd.NewEtcdClient(cfg("root", "rootpw"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := etcd.NewEtcdBackend(ctx, cli, "/lbhc", "g", "n1", 3*time.Second)
	if err != nil {
		cli.Close()
		t.Fatal(err)
	}
	defer b.Close()
	if st, err := acquireAfterStartWait(ctx, b); err != nil || !st.Held || st.Leader != "n1" {
		t.Fatalf("acquire as root: %+v, %v", st, err)
	}
	if st, err := b.TryAcquire(ctx, true); err != nil || !st.Held {
		t.Fatalf("renew as root: %+v, %v", st, err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// acquireAfterStartWait acquires a key nobody holds with a backend that
// has seen no key yet: such a backend waits a TTL after its start (a key
// deleted before its first read may have a live holder), so it retries
// when told.
func acquireAfterStartWait(ctx context.Context, b election.Backend) (election.State, error) {
	for {
		st, err := b.TryAcquire(ctx, false)
		if err != nil || st.Held || st.RetryAfter <= 0 || st.Leader != "" {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(st.RetryAfter):
		}
	}
}
