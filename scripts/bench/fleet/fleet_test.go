//go:build bench

// Benchmarks, not tests: built only with -tags bench (scripts/bench/fleet.sh,
// scripts/bench/leasecost.sh), so the default test run neither builds nor skips them.

package fleet

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/azblob"
	"github.com/lbhc/lbhc/election/dynamodb"
	etcdlease "github.com/lbhc/lbhc/election/etcd"
	"github.com/lbhc/lbhc/itest"
	"github.com/lbhc/lbhc/scripts/bench/leasecost"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// GroupsEnv turns the fleet run on: a comma list of group counts.
const GroupsEnv = "LBHC_BENCH_FLEET_GROUPS"

// Result is one fleet run.
type Result struct {
	Backend        string             `json:"backend"`
	Groups         int                `json:"groups"`
	WindowSeconds  float64            `json:"window_s"`
	PerSecond      map[string]float64 `json:"requests_per_s"`
	Renewals       int                `json:"renewals"`
	RenewFailed    int                `json:"renewals_failed"`
	P50ms          float64            `json:"renew_p50_ms"`
	P99ms          float64            `json:"renew_p99_ms"`
	Lost           int                `json:"leaderships_lost"` // missed deadlines and lost leases in the window
	Leaderless     int                `json:"groups_without_leader_at_end"`
	SettleSeconds  float64            `json:"settle_s"` // until every group had a leader
	LostReasons    []string           `json:"lost_reasons,omitempty"`
	NotSettledNote string             `json:"note,omitempty"`
}

func randName(p string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%x", p, b)
}

// factory builds the backend of node id of group g; the counter sees
// every request.
type factory func(t *testing.T, g int, id string) election.Backend

func dynamo(t *testing.T, c *leasecost.Counter) (factory, func()) {
	p, err := leasecost.StartProxy(itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT"), c, leasecost.DynamoDBOp)
	if err != nil {
		t.Fatal(err)
	}
	cli := dynamodb.NewDynamoDBClient(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(p.URL)})
	table := randName("lbhc-fleet")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := dynamodb.NewDynamoDBStore(ctx, cli, table, "setup", true); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, g int, id string) election.Backend {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		st, err := dynamodb.NewDynamoDBStore(ctx, cli, table, fmt.Sprintf("group-%d", g), false)
		if err != nil {
			t.Fatal(err)
		}
		return election.NewCASBackend(st, id, election.DefaultLeaseTTL, nil)
	}, func() { _ = p.Close() }
}

func azureRecord(t *testing.T, c *leasecost.Counter) (factory, func()) {
	cs := itest.Env(t, "LBHC_TEST_AZURITE_CONNECTION_STRING")
	var ep string
	for _, part := range strings.Split(cs, ";") {
		if v, ok := strings.CutPrefix(part, "BlobEndpoint="); ok {
			ep = v
		}
	}
	p, err := leasecost.StartProxy(ep, c, leasecost.AzureOp)
	if err != nil {
		t.Fatal(err)
	}
	pcs := strings.Replace(cs, "BlobEndpoint="+strings.TrimSuffix(strings.SplitN(ep, "/devstoreaccount1", 2)[0], "/"), "BlobEndpoint="+p.URL, 1)
	ctr := randName("lbhc-fleet")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := azblob.NewAzureBlob(ctx, azblob.AzureConfig{Mode: azblob.AzureModeRecord, ConnectionString: pcs, Container: ctr, CreateContainer: true, LeaseName: "setup"}, "setup", election.DefaultLeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	return func(t *testing.T, g int, id string) election.Backend {
		st, err := azblob.NewBlobRecordStore(azblob.AzureConfig{Mode: azblob.AzureModeRecord, ConnectionString: pcs, Container: ctr, LeaseName: fmt.Sprintf("group-%d", g)})
		if err != nil {
			t.Fatal(err)
		}
		return election.NewCASBackend(st, id, election.DefaultLeaseTTL, nil)
	}, func() { _ = p.Close() }
}

func etcd(t *testing.T, c *leasecost.Counter) (factory, func()) {
	eps := strings.Split(itest.Env(t, "LBHC_TEST_ETCD_ENDPOINTS"), ",")
	prefix := "/" + randName("lbhc-fleet")
	// One client per node, as in a real fleet (each VM has its own).
	return func(t *testing.T, g int, id string) election.Backend {
		cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, DialOptions: leasecost.GRPCCounting(c)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		b, err := etcdlease.NewEtcdBackend(ctx, cli, prefix, fmt.Sprintf("group-%d", g), id, election.DefaultLeaseTTL)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, func() {}
}

// TestFleet runs N groups of two engines at the default timings on each
// emulator and reports request rates, renewal latency and lost
// leaderships. scripts/bench/fleet.sh runs it.
func TestFleet(t *testing.T) {
	spec := os.Getenv(GroupsEnv)
	if spec == "" {
		t.Skip(GroupsEnv + " not set: the fleet simulation is a benchmark (scripts/bench/fleet.sh)")
	}
	window := 60 * time.Second
	if w := os.Getenv("LBHC_BENCH_FLEET_WINDOW"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil {
			t.Fatal(err)
		}
		window = d
	}
	backends := map[string]func(*testing.T, *leasecost.Counter) (factory, func()){
		"dynamodb": dynamo, "azblob-record": azureRecord, "etcd": etcd,
	}
	names := strings.Split(os.Getenv("LBHC_BENCH_FLEET_BACKENDS"), ",")
	if names[0] == "" {
		names = []string{"dynamodb", "azblob-record", "etcd"}
	}
	var results []Result
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1000 {
			t.Fatalf("%s: %q is not a group count in 1..1000", GroupsEnv, s)
		}
		for _, name := range names {
			mk, ok := backends[name]
			if !ok {
				t.Fatalf("unknown backend %q", name)
			}
			t.Run(fmt.Sprintf("%s-%d", name, n), func(t *testing.T) {
				r := runFleet(t, name, mk, n, window)
				b, _ := json.Marshal(r)
				t.Logf("%s", b)
				results = append(results, r)
			})
		}
	}
	b, _ := json.MarshalIndent(results, "", "  ")
	if path := os.Getenv("LBHC_BENCH_FLEET_OUT"); path != "" {
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runFleet(t *testing.T, name string, mk func(*testing.T, *leasecost.Counter) (factory, func()), n int, window time.Duration) Result {
	c := leasecost.NewCounter()
	newBackend, stop := mk(t, c)
	defer stop()
	timing := election.Config{LeaseTTL: election.DefaultLeaseTTL, RenewDeadline: election.DefaultRenewDeadline, RetryPeriod: election.DefaultRetryPeriod}
	lat := &Latencies{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var (
		lost     atomic.Int64
		mu       sync.Mutex
		reasons  []string
		counting atomic.Bool
	)
	engines := make([][2]*election.Engine, n)
	start := time.Now()
	for g := range n {
		for i, id := range []string{"a", "b"} {
			b := Timed(newBackend(t, g, id), lat)
			tm := timing
			tm.NodeID = fmt.Sprintf("g%d-%s", g, id)
			eng, err := election.NewEngine(tm, b, election.Options{})
			if err != nil {
				t.Fatal(err)
			}
			engines[g][i] = eng
			wg.Add(2)
			go func() { defer wg.Done(); _ = eng.Run(ctx); _ = b.Close() }()
			go func() {
				defer wg.Done()
				for {
					select {
					case ev := <-eng.Events():
						if ev.Kind == election.Lost && counting.Load() {
							lost.Add(1)
							mu.Lock()
							if len(reasons) < 5 {
								reasons = append(reasons, ev.Reason)
							}
							mu.Unlock()
						}
					case <-ctx.Done():
						return
					}
				}
			}()
		}
	}
	leaderless := func() (k int) {
		for _, g := range engines {
			if !g[0].Status().Leading && !g[1].Status().Leading {
				k++
			}
		}
		return k
	}
	r := Result{Backend: name, Groups: n, WindowSeconds: window.Seconds()}
	for end := time.Now().Add(timing.LeaseTTL + 60*time.Second); leaderless() > 0 && time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
	}
	r.SettleSeconds = time.Since(start).Seconds()
	if k := leaderless(); k > 0 {
		r.NotSettledNote = fmt.Sprintf("%d groups still without a leader after %.0fs", k, r.SettleSeconds)
	}
	time.Sleep(2 * timing.RetryPeriod)
	c.Reset()
	lat.Reset()
	counting.Store(true)
	time.Sleep(window)
	counting.Store(false)
	r.PerSecond = map[string]float64{}
	for op, k := range c.Reset() {
		r.PerSecond[op] = float64(k) / window.Seconds()
	}
	var p50, p99 time.Duration
	r.Renewals, r.RenewFailed, p50, p99 = lat.Summary()
	r.P50ms, r.P99ms = float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000
	r.Lost = int(lost.Load())
	r.Leaderless = leaderless()
	mu.Lock()
	r.LostReasons = slices.Clone(reasons)
	mu.Unlock()
	return r
}
