package vip

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// memPlatform is an in-memory host for the manager's decision logic; the
// real netlink code is exercised by the netns tests.
type memPlatform struct {
	mu        sync.Mutex
	ls        []link
	as        []hostAddr
	addErr    error
	noPriv    error
	announced []netip.Addr
	calls     []string
	closed    int // close calls
}

func (p *memPlatform) links() ([]link, error) { return p.ls, nil }

func (p *memPlatform) addrs() ([]hostAddr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.as), nil
}

func (p *memPlatform) add(l link, pfx netip.Prefix) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "add "+pfx.String()+" "+l.Name)
	if p.addErr != nil {
		return p.addErr
	}
	p.as = append(p.as, hostAddr{Prefix: pfx, LinkIndex: l.Index, LinkName: l.Name, Ours: true})
	return nil
}

func (p *memPlatform) del(a hostAddr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "del "+a.Prefix.String()+" "+a.LinkName)
	if !a.Ours {
		return errors.New("deleting a foreign address")
	}
	p.as = slices.DeleteFunc(p.as, func(x hostAddr) bool { return x == a })
	return nil
}

func (p *memPlatform) canManage(bool) error { return p.noPriv }

func (p *memPlatform) announce(_ link, pfx netip.Prefix) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.announced = append(p.announced, pfx.Addr())
	return 1, nil
}

func (p *memPlatform) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed++
	return nil
}

func (p *memPlatform) announcedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.announced)
}

var (
	mVIP   = netip.MustParsePrefix("10.0.0.5/32")
	mEth0  = link{Name: "eth0", Index: 2}
	mEth1  = link{Name: "eth1", Index: 3}
	hostIP = hostAddr{Prefix: netip.MustParsePrefix("10.0.0.4/24"), LinkIndex: 2, LinkName: "eth0"}
)

func newMemManager(t *testing.T, cfg Config, p *memPlatform) *Manager {
	t.Helper()
	cfg, err := cfg.validate("lo")
	if err != nil {
		t.Fatal(err)
	}
	m, err := newManager(cfg, testLogger(t), prometheus.NewRegistry(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestManagerPreflight(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1"}
	p := &memPlatform{ls: []link{mEth0, mEth1}, as: []hostAddr{hostIP}}
	if err := newMemManager(t, cfg, p).Preflight(ctx); err != nil {
		t.Fatalf("Preflight: %v", err)
	}
	p.noPriv = errors.New("missing [CAP_NET_ADMIN]")
	err := newMemManager(t, cfg, p).Preflight(ctx)
	if err == nil || err.Error() != "vip: cannot manage addresses: missing [CAP_NET_ADMIN]" {
		t.Errorf("Preflight without privilege = %v", err)
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		t.Errorf("missing privilege reported as a configuration error")
	}
	p.noPriv = nil
	p.as = append(p.as, hostAddr{Prefix: mVIP, LinkIndex: 2, LinkName: "eth0"})
	err = newMemManager(t, cfg, p).Preflight(ctx)
	if !errors.As(err, &ce) || ce.Flag != "vip" {
		t.Errorf("Preflight with the VIP as a host address = %v", err)
	}
	if len(p.calls) != 0 {
		t.Errorf("Preflight changed addresses: %v", p.calls)
	}
}

func TestManagerAddRemoveLifecycle(t *testing.T) {
	ctx := context.Background()
	p := &memPlatform{ls: []link{mEth0, mEth1}, as: []hostAddr{hostIP}}
	m := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1", GARPCount: 1}, p)
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"add 10.0.0.5/32 eth1"}; !slices.Equal(p.calls, want) {
		t.Errorf("calls after two Adds = %v, want %v", p.calls, want)
	}
	if st := m.Status(); len(st) != 1 || st[0] != (AddrStatus{Addr: "10.0.0.5/32", Present: true, Interface: "eth1"}) {
		t.Errorf("Status = %+v", st)
	}
	if got := p.announcedCount(); got != 2 { // one round per Add
		t.Errorf("announced %d times, want 2", got)
	}
	if err := m.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if len(p.as) != 1 || p.as[0] != hostIP {
		t.Errorf("addresses after Remove = %v", p.as)
	}
	if v := testutil.ToFloat64(m.m.present.WithLabelValues("10.0.0.5/32")); v != 0 {
		t.Errorf("lbhc_vip_present = %v after Remove", v)
	}
}

func TestManagerMovesOwnVIPToConfiguredLink(t *testing.T) {
	p := &memPlatform{ls: []link{mEth0, mEth1},
		as: []hostAddr{hostIP, {Prefix: mVIP, LinkIndex: 2, LinkName: "eth0", Ours: true}}}
	m := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1"}, p)
	if err := m.Add(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"del 10.0.0.5/32 eth0", "add 10.0.0.5/32 eth1"}; !slices.Equal(p.calls, want) {
		t.Errorf("calls = %v, want %v", p.calls, want)
	}
}

func TestManagerNeverAdoptsOrRemovesForeign(t *testing.T) {
	ctx := context.Background()
	foreign := hostAddr{Prefix: mVIP, LinkIndex: 3, LinkName: "eth1"}
	p := &memPlatform{ls: []link{mEth0, mEth1}, as: []hostAddr{hostIP, foreign}}
	m := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1"}, p)
	err := m.Add(ctx)
	if err == nil || err.Error() != "vip: 10.0.0.5/32 is present on eth1 but was not added by lbhc; refusing to adopt it" {
		t.Errorf("Add = %v", err)
	}
	if err := m.Remove(ctx); err != nil {
		t.Error(err)
	}
	if err := m.Cleanup(ctx); err != nil {
		t.Error(err)
	}
	if n, err := m.Reconcile(ctx); err != nil || n != 0 {
		t.Errorf("Reconcile = %d, %v", n, err)
	}
	if len(p.calls) != 0 {
		t.Errorf("foreign address touched: %v", p.calls)
	}
	if st := m.Status(); st[0].Present {
		t.Errorf("foreign address reported as lbhc's VIP: %+v", st)
	}
}

func TestManagerCleanupOnlyOwnConfiguredVIPs(t *testing.T) {
	other := hostAddr{Prefix: netip.MustParsePrefix("10.0.0.9/32"), LinkIndex: 3, LinkName: "eth1", Ours: true}
	stale := hostAddr{Prefix: mVIP, LinkIndex: 3, LinkName: "eth1", Ours: true}
	p := &memPlatform{ls: []link{mEth0, mEth1}, as: []hostAddr{hostIP, stale, other}}
	m := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1"}, p)
	if err := m.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"del 10.0.0.5/32 eth1"}; !slices.Equal(p.calls, want) {
		t.Errorf("calls = %v, want %v", p.calls, want)
	}
	if v := testutil.ToFloat64(m.m.staleRemoved); v != 1 {
		t.Errorf("lbhc_vip_stale_removed_total = %v", v)
	}
}

func TestManagerReconcile(t *testing.T) {
	ctx := context.Background()
	p := &memPlatform{ls: []link{mEth0, mEth1}, as: []hostAddr{hostIP}}
	m := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1", GARPCount: 1}, p)
	if n, err := m.Reconcile(ctx); err != nil || n != 0 {
		t.Fatalf("Reconcile as follower with nothing present = %d, %v", n, err)
	}
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	p.as = []hostAddr{hostIP} // someone removed the VIP
	if n, err := m.Reconcile(ctx); err != nil || n != 1 {
		t.Fatalf("Reconcile = %d, %v; want 1", n, err)
	}
	if got := p.announcedCount(); got != 2 {
		t.Errorf("re-added VIP announced %d times in total, want 2", got)
	}
	p.addErr = errors.New("no buffer space")
	p.as = []hostAddr{hostIP}
	if _, err := m.Reconcile(ctx); err == nil || !strings.Contains(err.Error(), "adding 10.0.0.5/32 to eth1: no buffer space") {
		t.Errorf("Reconcile with failing add = %v", err)
	}
	if st := m.Status(); st[0].Present {
		t.Errorf("Status after failed repair = %+v", st)
	}
	if v := testutil.ToFloat64(m.m.repairs); v != 1 {
		t.Errorf("lbhc_vip_repairs_total = %v, want 1", v)
	}
	if v := testutil.ToFloat64(m.m.errors.WithLabelValues("reconcile")); v != 1 {
		t.Errorf("lbhc_vip_errors_total{op=reconcile} = %v, want 1", v)
	}
}

func TestManagerAnnouncementRounds(t *testing.T) {
	ctx := context.Background()
	p := &memPlatform{ls: []link{mEth0, mEth1}}
	m := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1", GARPCount: 4, GARPInterval: 10 * time.Millisecond}, p)
	if err := m.Add(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.announcedCount(); got != 1 {
		t.Errorf("rounds sent when Add returned = %d, want 1", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for p.announcedCount() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := p.announcedCount(); got != 4 {
		t.Errorf("rounds = %d, want 4", got)
	}

	// Remove stops the rounds still to come.
	slow := &memPlatform{ls: []link{mEth0, mEth1}}
	m2 := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1", GARPCount: 100, GARPInterval: time.Hour}, slow)
	if err := m2.Add(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m2.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Remove waited %v for the announcer", d)
	}
	if got := slow.announcedCount(); got != 1 {
		t.Errorf("rounds = %d, want 1", got)
	}

	// Loopback mode announces nothing.
	lo := &memPlatform{ls: []link{{Name: "lo", Index: 1}}}
	m3 := newMemManager(t, Config{Addrs: []netip.Prefix{mVIP}, Mode: ModeLoopback, GARPCount: 3, GARPInterval: time.Millisecond}, lo)
	if err := m3.Add(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lo.announcedCount(); got != 0 {
		t.Errorf("loopback mode announced %d times", got)
	}
}

func TestManagerMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg, _ := Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1"}.validate("lo")
	if _, err := newManager(cfg, testLogger(t), reg, &memPlatform{}); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "lbhc_vip_present")
	if err != nil || n != 1 {
		t.Errorf("lbhc_vip_present series = %d, %v", n, err)
	}
	if _, err := newManager(cfg, testLogger(t), reg, &memPlatform{}); err == nil {
		t.Error("second registration on the same registry succeeded")
	}
	if _, err := newManager(cfg, testLogger(t), nil, &memPlatform{}); err != nil {
		t.Errorf("nil registerer: %v", err)
	}
}

// A constructor that fails after opening the platform closes it and leaves
// the registry as it found it.
func TestNewManagerReleasesOnFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Same name and help (the registry remembers a name's shape for good).
	taken := prometheus.NewCounter(prometheus.CounterOpts{Name: "lbhc_vip_announcements_total",
		Help: "Gratuitous ARP and unsolicited neighbour advertisement frames sent."})
	reg.MustRegister(taken)
	cfg, _ := Config{Addrs: []netip.Prefix{mVIP}, Interface: "eth1"}.validate("lo")
	p := &memPlatform{}
	if _, err := newManager(cfg, testLogger(t), reg, p); err == nil {
		t.Fatal("newManager succeeded with a metric name taken")
	}
	if p.closed != 1 {
		t.Errorf("platform closed %d times after the failure, want 1", p.closed)
	}
	if n, err := testutil.GatherAndCount(reg, "lbhc_vip_present", "lbhc_vip_repairs_total"); err != nil || n != 0 {
		t.Errorf("%d series of the failed manager left registered (%v)", n, err)
	}
	reg.Unregister(taken)
	q := &memPlatform{}
	if _, err := newManager(cfg, testLogger(t), reg, q); err != nil {
		t.Fatalf("second attempt on the same registry: %v", err)
	}
	if q.closed != 0 {
		t.Error("a manager that was built closed its platform")
	}
}
