package azblob_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/azblob"
	"github.com/lbhc/lbhc/election/electiontest"
	"github.com/lbhc/lbhc/itest"
)

// azuriteEnv is exported by scripts/test.sh (package itest documents it).
const azuriteEnv = "LBHC_TEST_AZURITE_CONNECTION_STRING"

// errAzureCut is what a cut candidate's HTTP requests fail with.
var errAzureCut = errors.New("test: network to the blob service cut")

// azCutTransport is a per-candidate HTTP transport with a reachability
// switch: while cut, a request waits 100 ms (a lost packet) or until its
// context ends, then fails without reaching the server.
type azCutTransport struct {
	c   *http.Client
	cut atomic.Bool
}

func newAzCutTransport(t *testing.T) *azCutTransport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &azCutTransport{c: &http.Client{Transport: tr}}
}

func (c *azCutTransport) Do(req *http.Request) (*http.Response, error) {
	if c.cut.Load() {
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(100 * time.Millisecond):
			return nil, errAzureCut
		}
	}
	return c.c.Do(req)
}

func (c *azCutTransport) setReachable(ok bool) { c.cut.Store(!ok) }

// azTestContainer is a fresh container name, so runs never share leases.
func azTestContainer(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("lbhc-test-%x", b)
}

func azTestSuite(t *testing.T, cs, mode string, timing election.Config) electiontest.Suite {
	ctr := azTestContainer(t)
	s := electiontest.Suite{
		Timing: timing,
		New: func(t *testing.T, leaseName, id string) electiontest.Candidate {
			tr := newAzCutTransport(t)
			cfg := azblob.AzureConfig{Mode: mode, ConnectionString: cs, Container: ctr, CreateContainer: true, LeaseName: leaseName, Transport: tr}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, err := azblob.NewAzureBlob(ctx, cfg, id, timing.LeaseTTL)
			if err != nil {
				t.Fatalf("NewAzureBlob(%s): %v", id, err)
			}
			return electiontest.Candidate{Backend: b, SetReachable: tr.setReachable}
		},
		Steal: func(t *testing.T, leaseName string) {
			cfg := azblob.AzureConfig{Mode: mode, ConnectionString: cs, Container: ctr, LeaseName: leaseName}
			if mode == azblob.AzureModeRecord {
				st, err := azblob.NewBlobRecordStore(cfg)
				if err != nil {
					t.Fatal(err)
				}
				electiontest.StealStore(t, st)
				return
			}
			stealNativeLease(t, cs, ctr, leaseName)
		},
		Delete: azDeleteRecord(cs, ctr, mode),
	}
	if mode == azblob.AzureModeRecord {
		s.Store = func(t *testing.T, leaseName string) election.Store {
			// A backend on another blob creates the container first.
			cfg := azblob.AzureConfig{Mode: mode, ConnectionString: cs, Container: ctr, CreateContainer: true, LeaseName: leaseName + "-setup"}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, err := azblob.NewAzureBlob(ctx, cfg, "setup", timing.LeaseTTL)
			if err != nil {
				t.Fatalf("NewAzureBlob(setup): %v", err)
			}
			_ = b.Close()
			cfg.LeaseName = leaseName
			st, err := azblob.NewBlobRecordStore(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	}
	return s
}

// azDeleteRecord deletes the record blob as a lifecycle policy would. A
// native-mode blob is under a lease and cannot be deleted without breaking
// it first, which is LostLeaseDemotesAtOnce: there is nothing to delete.
func azDeleteRecord(cs, ctr, mode string) func(*testing.T, string) {
	if mode != azblob.AzureModeRecord {
		return nil
	}
	return func(t *testing.T, leaseName string) {
		cc, err := container.NewClientFromConnectionString(cs, ctr, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cc.NewBlobClient(leaseName).Delete(ctx, nil); err != nil {
			t.Fatalf("delete record blob: %v", err)
		}
	}
}

// stealNativeLease breaks the holder's blob lease at once and takes a new
// one under a stranger's lease ID, as an operator with the account key
// could.
func stealNativeLease(t *testing.T, cs, ctr, blobName string) {
	t.Helper()
	cc, err := container.NewClientFromConnectionString(cs, ctr, nil)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := lease.NewBlobClient(cc.NewBlockBlobClient(blobName), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := lc.BreakLease(ctx, &lease.BlobBreakOptions{BreakPeriod: azTestPtr(int32(0))}); err != nil {
		t.Fatalf("steal: break lease: %v", err)
	}
	if _, err := lc.AcquireLease(ctx, 60, nil); err != nil {
		t.Fatalf("steal: acquire lease: %v", err)
	}
}

func azTestPtr[T any](v T) *T { return &v }

// TestConformanceAzureNative runs the suite on the native blob lease at
// its shortest duration (15 s TTL, 10 s renew-deadline, 2 s retry): about
// two and a half minutes, in parallel with the other suites.
func TestConformanceAzureNative(t *testing.T) {
	cs := itest.Env(t, azuriteEnv)
	t.Parallel()
	electiontest.Run(t, azTestSuite(t, cs, azblob.AzureModeNative, election.Config{
		LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
	}))
}

// TestConformanceAzureRecord runs the suite on the CAS record blob at the
// suite's fast default timing (1.5 s / 1 s / 250 ms).
func TestConformanceAzureRecord(t *testing.T) {
	cs := itest.Env(t, azuriteEnv)
	t.Parallel()
	electiontest.Run(t, azTestSuite(t, cs, azblob.AzureModeRecord, election.Config{
		LeaseTTL: 1500 * time.Millisecond, RenewDeadline: time.Second, RetryPeriod: 250 * time.Millisecond,
	}))
}

// azuriteKeyParts splits the Azurite connection string into the pieces the
// account+key mode takes.
func azuriteKeyParts(t *testing.T, cs string) (account, key, endpoint string) {
	for _, kv := range strings.Split(cs, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "AccountName":
			account = v
		case "AccountKey":
			key = v
		case "BlobEndpoint":
			endpoint = v
		}
	}
	if account == "" || key == "" || endpoint == "" {
		t.Fatalf("%s lacks AccountName, AccountKey or BlobEndpoint", azuriteEnv)
	}
	return account, key, endpoint
}

// TestAzureStartupChecks: configuration problems surface from the
// constructor, before any campaign, as exit-2 errors naming the flag.
func TestAzureStartupChecks(t *testing.T) {
	cs := itest.Env(t, azuriteEnv)
	t.Parallel()
	account, key, endpoint := azuriteKeyParts(t, cs)
	wrongKey := "AAAA" + key[4:]
	missing := azTestContainer(t)
	newB := func(cfg azblob.AzureConfig) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := azblob.NewAzureBlob(ctx, cfg, "n1", 15*time.Second)
		if err == nil {
			b.Close()
		}
		return err
	}
	for _, tc := range []struct {
		name     string
		cfg      azblob.AzureConfig
		flag     string // "" = not a configuration error
		contains string
	}{
		{"missing container", azblob.AzureConfig{ConnectionString: cs, Container: missing, LeaseName: "l"},
			"azure-container", fmt.Sprintf("invalid --azure-container: container %q does not exist in %s/%s; create it or pass --azure-create-container", missing, endpoint, missing)},
		{"wrong key in connection string", azblob.AzureConfig{ConnectionString: strings.Replace(cs, key, wrongKey, 1), LeaseName: "l", CreateContainer: true},
			"azure-connection-string", "invalid --azure-connection-string: the storage account rejected the credentials or they lack permission (azure blob read lbhc/l: HTTP 403 "},
		{"wrong account key", azblob.AzureConfig{Account: account, Key: wrongKey, Endpoint: endpoint, LeaseName: "l", CreateContainer: true},
			"azure-storage-key", "invalid --azure-storage-key: the storage account rejected the credentials or they lack permission (azure blob read lbhc/l: HTTP 403 "},
		{"unreachable endpoint", azblob.AzureConfig{Account: account, Key: key, Endpoint: "http://127.0.0.1:9/" + account, LeaseName: "l"},
			"", "azure blob storage for --azure-blob-endpoint not usable at start-up: azure blob read lbhc/l: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newB(tc.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			t.Logf("start-up error: %v", err)
			var ce *election.ConfigError
			if isCfg := errors.As(err, &ce); isCfg != (tc.flag != "") || (isCfg && ce.Flag != tc.flag) {
				t.Fatalf("error %q (%T): want config error for flag %q", err, err, tc.flag)
			}
			if !strings.HasPrefix(err.Error(), tc.contains) {
				t.Fatalf("error\n %q\nwant prefix\n %q", err, tc.contains)
			}
			if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), wrongKey) {
				t.Fatalf("error leaks the account key: %q", err)
			}
		})
	}

	// A group whose nodes disagree on the mode would not exclude each
	// other: the second mode refuses the first one's blob at start-up.
	t.Run("mode mismatch", func(t *testing.T) {
		ctr := azTestContainer(t)
		for _, first := range []string{azblob.AzureModeNative, azblob.AzureModeRecord} {
			second := azblob.AzureModeRecord
			if first == second {
				second = azblob.AzureModeNative
			}
			cfg := azblob.AzureConfig{Mode: first, ConnectionString: cs, Container: ctr, CreateContainer: true, LeaseName: "mix-" + first}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			b, err := azblob.NewAzureBlob(ctx, cfg, "n1", 15*time.Second)
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			// Write the blob in the first mode's format (a record-mode node
			// waits a TTL before it creates a record, so write it directly).
			if first == azblob.AzureModeRecord {
				rs, err := azblob.NewBlobRecordStore(cfg)
				if err == nil {
					_, err = rs.Create(ctx, election.Record{Holder: "n1", Term: 1, TTL: 15 * time.Second})
				}
				if err != nil {
					cancel()
					t.Fatalf("create record: %v", err)
				}
			} else if st, err := b.TryAcquire(ctx, false); err != nil || !st.Held {
				cancel()
				t.Fatalf("%s acquire: %+v %v", first, st, err)
			}
			cancel()
			cfg.Mode = second
			err = newB(cfg)
			want := fmt.Sprintf("invalid --azure-lease-mode: blob %s/mix-%s holds a record-mode lease record; every node of a group must use the same --azure-lease-mode (or use another --lease-name)", ctr, first)
			if second == azblob.AzureModeRecord {
				want = fmt.Sprintf("invalid --azure-lease-mode: blob %s/mix-%s is an empty native-mode lease blob; every node of a group must use the same --azure-lease-mode (or use another --lease-name)", ctr, first)
			}
			if err == nil || err.Error() != want {
				t.Fatalf("%s node on a %s blob: error\n %v\nwant\n %s", second, first, err, want)
			}
		}
	})

	// --azure-create-container creates it; account+key mode works too.
	t.Run("create container with account key", func(t *testing.T) {
		ctr := azTestContainer(t)
		cfg := azblob.AzureConfig{Account: account, Key: key, Endpoint: endpoint, Container: ctr, CreateContainer: true, LeaseName: "l"}
		if err := newB(cfg); err != nil {
			t.Fatalf("with --azure-create-container: %v", err)
		}
		cfg.CreateContainer = false
		if err := newB(cfg); err != nil {
			t.Fatalf("container %s not there after creation: %v", ctr, err)
		}
	})
}

// TestAzureNativeMetadata: a follower sees the holder and term written
// under the lease; a release frees the lease at once for the next node,
// whose term is higher; a lease still held is not acquired.
func TestAzureNativeMetadata(t *testing.T) {
	cs := itest.Env(t, azuriteEnv)
	t.Parallel()
	ctr := azTestContainer(t)
	mk := func(id string) election.Backend {
		cfg := azblob.AzureConfig{ConnectionString: cs, Container: ctr, CreateContainer: true, LeaseName: "meta"}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := azblob.NewAzureBlob(ctx, cfg, id, 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	a, b := mk("a"), mk("b")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := a.TryAcquire(ctx, false)
	if err != nil || !st.Held || st.Term != 1 || st.Leader != "a" {
		t.Fatalf("a acquire: %+v %v; want held term 1", st, err)
	}
	st, err = b.TryAcquire(ctx, false)
	if err != nil || st.Held || st.Term != 1 || st.Leader != "a" {
		t.Fatalf("b while a holds: %+v %v; want follower of a at term 1", st, err)
	}
	if st, err = a.TryAcquire(ctx, true); err != nil || !st.Held || st.Term != 1 {
		t.Fatalf("a renew: %+v %v", st, err)
	}
	if _, err := b.TryAcquire(ctx, true); !errors.Is(err, election.ErrLeaseLost) {
		t.Fatalf("b renew without a grant: %v, want ErrLeaseLost", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("a release: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("second release must be a no-op: %v", err)
	}
	st, err = b.TryAcquire(ctx, false)
	if err != nil || !st.Held || st.Term != 2 || st.Leader != "b" {
		t.Fatalf("b after release: %+v %v; want held term 2", st, err)
	}
	if _, err := a.TryAcquire(ctx, true); !errors.Is(err, election.ErrLeaseLost) {
		t.Fatalf("a renew after release: %v, want ErrLeaseLost", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// azCountingTransport counts requests per operation (lease actions by
// name, else the HTTP method), for the request-rate figures in
// docs/BACKENDS-azure.md.
type azCountingTransport struct {
	c  *http.Client
	mu sync.Mutex
	n  map[string]int
}

func newAzCountingTransport(t *testing.T) *azCountingTransport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &azCountingTransport{c: &http.Client{Transport: tr}, n: map[string]int{}}
}

func (c *azCountingTransport) Do(req *http.Request) (*http.Response, error) {
	op := req.Method
	for k, v := range req.Header {
		if strings.EqualFold(k, "x-ms-lease-action") && len(v) > 0 {
			op = "LEASE-" + v[0]
		}
	}
	if req.URL.Query().Get("comp") == "metadata" {
		op = "METADATA"
	}
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
	return c.c.Do(req)
}

func (c *azCountingTransport) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.n
	c.n = map[string]int{}
	return old
}

// TestAzureRequestRate: once a leader is elected, a follower makes one
// read per retry period and the leader one renewal (lease renew or record
// write) per election.RenewInterval, the basis of the cost figures in
// docs/BACKENDS-azure.md and the README.
func TestAzureRequestRate(t *testing.T) {
	cs := itest.Env(t, azuriteEnv)
	t.Parallel()
	for _, tc := range []struct {
		mode   string
		timing election.Config
		window time.Duration
	}{
		{azblob.AzureModeRecord, election.Config{LeaseTTL: 1500 * time.Millisecond, RenewDeadline: time.Second, RetryPeriod: 250 * time.Millisecond}, 5 * time.Second},
		{azblob.AzureModeNative, election.Config{LeaseTTL: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}, 20 * time.Second},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			ctr := azTestContainer(t)
			type nd struct {
				tr  *azCountingTransport
				eng *election.Engine
			}
			var nodes []nd
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			for _, id := range []string{"a", "b"} {
				tr := newAzCountingTransport(t)
				cfg := azblob.AzureConfig{Mode: tc.mode, ConnectionString: cs, Container: ctr, CreateContainer: true, LeaseName: "rate", Transport: tr}
				b, err := azblob.NewAzureBlob(ctx, cfg, id, tc.timing.LeaseTTL)
				if err != nil {
					t.Fatal(err)
				}
				timing := tc.timing
				timing.NodeID = id
				eng, err := election.NewEngine(timing, b, election.Options{})
				if err != nil {
					t.Fatal(err)
				}
				nodes = append(nodes, nd{tr, eng})
				wg.Add(2)
				go func() { defer wg.Done(); _ = eng.Run(ctx) }()
				go func() { // drain events
					defer wg.Done()
					for {
						select {
						case <-eng.Events():
						case <-ctx.Done():
							return
						}
					}
				}()
			}
			leader := -1
			for end := time.Now().Add(tc.timing.LeaseTTL + 2*tc.timing.RetryPeriod + time.Second); leader < 0 && time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
				for i, n := range nodes {
					if n.eng.Status().Leading {
						leader = i
					}
				}
			}
			if leader < 0 {
				t.Fatal("no leader")
			}
			for _, n := range nodes {
				n.tr.reset()
			}
			time.Sleep(tc.window)
			for i, n := range nodes {
				want := float64(tc.window) / float64(tc.timing.RetryPeriod)
				if i == leader {
					want = float64(tc.window) / float64(election.RenewInterval(tc.timing))
				}
				got := n.tr.reset()
				total := 0
				for _, v := range got {
					total += v
				}
				role := "follower"
				if i == leader {
					role = "leader"
				}
				perHour := float64(total) * float64(time.Hour) / float64(tc.window)
				t.Logf("%s %s: %v in %s = %.0f requests/hour (%.0f per hour per retry-period second)",
					tc.mode, role, got, tc.window, perHour, perHour*tc.timing.RetryPeriod.Seconds())
				if float64(total) < want-1 || float64(total) > want+1 {
					t.Errorf("%s made %d requests in %s, want %.1f±1 (follower: one per retry period, leader: one per renew interval)", role, total, tc.window, want)
				}
			}
			if !nodes[leader].eng.Status().Leading {
				t.Fatal("leader changed during the window")
			}
		})
	}
}

// TestAzureRecordCrashFailover5s: record mode at a 5 s TTL replaces a
// crashed leader within lease-ttl + retry-period + 0.5 s (the bound the
// README promises for CAS-record stores).
func TestAzureRecordCrashFailover5s(t *testing.T) {
	cs := itest.Env(t, azuriteEnv)
	t.Parallel()
	timing := election.Config{LeaseTTL: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second}
	ctr := azTestContainer(t)
	type nd struct {
		eng    *election.Engine
		cancel context.CancelFunc
		done   chan struct{}
	}
	var nodes []*nd
	for _, id := range []string{"a", "b", "c"} {
		cfg := azblob.AzureConfig{Mode: azblob.AzureModeRecord, ConnectionString: cs, Container: ctr, CreateContainer: true, LeaseName: "crash5"}
		b, err := azblob.NewAzureBlob(context.Background(), cfg, id, timing.LeaseTTL)
		if err != nil {
			t.Fatal(err)
		}
		tm := timing
		tm.NodeID = id
		eng, err := election.NewEngine(tm, b, election.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		n := &nd{eng: eng, cancel: cancel, done: make(chan struct{})}
		nodes = append(nodes, n)
		go func() {
			defer close(n.done)
			go func() {
				for {
					select {
					case <-eng.Events():
					case <-ctx.Done():
						return
					}
				}
			}()
			_ = eng.Run(ctx)
		}()
		t.Cleanup(func() { cancel(); <-n.done })
	}
	leaderOf := func(skip *nd) *nd {
		for _, n := range nodes {
			if n != skip && n.eng.Status().Leading {
				return n
			}
		}
		return nil
	}
	var l *nd
	for end := time.Now().Add(timing.LeaseTTL + 3*time.Second); l == nil && time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		l = leaderOf(nil)
	}
	if l == nil {
		t.Fatal("no leader")
	}
	// Crash just after the first renewal (sent one retry period after the
	// grant): the longest wait, a full TTL from that write.
	time.Sleep(timing.RetryPeriod + 50*time.Millisecond)
	crashed := time.Now()
	l.cancel()
	<-l.done
	bound := timing.LeaseTTL + timing.RetryPeriod + 500*time.Millisecond
	var n *nd
	for n == nil && time.Since(crashed) < bound+2*time.Second {
		n = leaderOf(l)
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(crashed)
	if n == nil || took > bound {
		t.Fatalf("crash takeover took %s (leader found: %v), want <= %s", took, n != nil, bound)
	}
	t.Logf("record mode, ttl 5s / retry 1s: crash takeover in %s (bound %s)", took.Round(time.Millisecond), bound)
}

// TestAzureNativeTermSurvivesDeletedBlob: the native lease keeps its term
// in blob metadata, which a deleted blob (lease broken, then deleted by
// hand or a lifecycle policy) takes with it; with the term file the next
// grant is still above every term before.
func TestAzureNativeTermSurvivesDeletedBlob(t *testing.T) {
	cs := itest.Env(t, azuriteEnv)
	t.Parallel()
	ctr := azTestContainer(t)
	tf, err := election.LoadTermFile(filepath.Join(t.TempDir(), "del.term"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := azblob.AzureConfig{ConnectionString: cs, Container: ctr, CreateContainer: true, LeaseName: "del"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := azblob.NewAzureBlob(ctx, cfg, "a", 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	election.KeepTerms(a, tf)
	st, err := a.TryAcquire(ctx, false)
	if err != nil || !st.Held || st.Term != 1 {
		t.Fatalf("acquire: %+v %v", st, err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	cc, err := container.NewClientFromConnectionString(cs, ctr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.NewBlobClient("del").Delete(ctx, nil); err != nil {
		t.Fatalf("delete blob: %v", err)
	}
	st, err = a.TryAcquire(ctx, false)
	if err != nil || !st.Held || st.Term != 2 {
		t.Fatalf("acquire after the blob was deleted: %+v %v; want term 2", st, err)
	}
	if tf.Load() != 2 {
		t.Fatalf("term file holds %d, want 2", tf.Load())
	}
}
