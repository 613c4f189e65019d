//go:build bench

// Benchmarks, not tests: built only with -tags bench (scripts/bench/fleet.sh,
// scripts/bench/leasecost.sh), so the default test run neither builds nor skips them.

package leasecost

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/azblob"
	"github.com/lbhc/lbhc/election/dynamodb"
	"github.com/lbhc/lbhc/election/etcd"
	"github.com/lbhc/lbhc/election/gcs"
	"github.com/lbhc/lbhc/itest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// WindowEnv turns the counting run on: how long to count once a leader is
// elected (e.g. 120s). It is a benchmark, not part of the default test run.
const WindowEnv = "LBHC_BENCH_LEASECOST_WINDOW"

// newNode builds one node's backend whose requests are counted in c.
type newNode func(t *testing.T, id string, c *Counter) election.Backend

func randName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%x", prefix, b)
}

func proxy(t *testing.T, target string, c *Counter, op func(*http.Request, int) string) *Proxy {
	t.Helper()
	p, err := StartProxy(target, c, op)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dynamoNodes(t *testing.T) newNode {
	endpoint := itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT")
	table := randName("lbhc-cost")
	var once sync.Once
	return func(t *testing.T, id string, c *Counter) election.Backend {
		p := proxy(t, endpoint, c, DynamoDBOp)
		cli := dynamodb.NewDynamoDBClient(aws.Config{Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(p.URL)})
		create := false
		once.Do(func() { create = true })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := dynamodb.NewDynamoDBStore(ctx, cli, table, "group", create)
		if err != nil {
			t.Fatal(err)
		}
		return election.NewCASBackend(st, id, election.DefaultLeaseTTL, nil)
	}
}

// viaProxy points a connection string's BlobEndpoint at the proxy.
func viaProxy(t *testing.T, cs, proxyURL string) string {
	parts := strings.Split(cs, ";")
	for i, p := range parts {
		if v, ok := strings.CutPrefix(p, "BlobEndpoint="); ok {
			u, err := url.Parse(v)
			if err != nil {
				t.Fatal(err)
			}
			pu, _ := url.Parse(proxyURL)
			u.Scheme, u.Host = pu.Scheme, pu.Host
			parts[i] = "BlobEndpoint=" + u.String()
			return strings.Join(parts, ";")
		}
	}
	t.Fatal("connection string without BlobEndpoint")
	return ""
}

func blobEndpoint(t *testing.T, cs string) string {
	for _, p := range strings.Split(cs, ";") {
		if v, ok := strings.CutPrefix(p, "BlobEndpoint="); ok {
			return v
		}
	}
	t.Fatal("connection string without BlobEndpoint")
	return ""
}

func azureNodes(mode string) func(t *testing.T) newNode {
	return func(t *testing.T) newNode {
		cs := itest.Env(t, "LBHC_TEST_AZURITE_CONNECTION_STRING")
		ctr := randName("lbhc-cost")
		return func(t *testing.T, id string, c *Counter) election.Backend {
			p := proxy(t, blobEndpoint(t, cs), c, AzureOp)
			cfg := azblob.AzureConfig{Mode: mode, ConnectionString: viaProxy(t, cs, p.URL), Container: ctr, CreateContainer: true, LeaseName: "group"}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, err := azblob.NewAzureBlob(ctx, cfg, id, election.DefaultLeaseTTL)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func gcsNodes(t *testing.T) newNode {
	endpoint := itest.Env(t, "LBHC_TEST_GCS_ENDPOINT")
	bucket := randName("lbhc-cost")
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/storage/v1/b", strings.NewReader(`{"name":"`+bucket+`"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return func(t *testing.T, id string, c *Counter) election.Backend {
		p := proxy(t, endpoint, c, GCSOp)
		st := gcs.New(gcs.Config{Bucket: bucket, Object: "lbhc/group", Endpoint: p.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := st.Preflight(ctx); err != nil {
			t.Fatal(err)
		}
		return election.NewCASBackend(st, id, election.DefaultLeaseTTL, nil)
	}
}

func etcdNodes(t *testing.T) newNode {
	eps := strings.Split(itest.Env(t, "LBHC_TEST_ETCD_ENDPOINTS"), ",")
	prefix := "/" + randName("lbhc-cost")
	return func(t *testing.T, id string, c *Counter) election.Backend {
		cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, DialOptions: GRPCCounting(c)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b, err := etcd.NewEtcdBackend(ctx, cli, prefix, "group", id, election.DefaultLeaseTTL)
		if err != nil {
			_ = cli.Close()
			t.Fatal(err)
		}
		return b
	}
}

// TestCountLeaseRequests runs a 2-node group at the default timings on
// each emulator, counts every request each node sends once a leader is
// elected, and writes the per-hour rates to LBHC_BENCH_LEASECOST_OUT (or
// the log). scripts/bench/leasecost.sh runs it.
func TestCountLeaseRequests(t *testing.T) {
	w := os.Getenv(WindowEnv)
	if w == "" {
		t.Skip(WindowEnv + " not set: the counting run is a benchmark (scripts/bench/leasecost.sh)")
	}
	window, err := time.ParseDuration(w)
	if err != nil || window < 10*time.Second {
		t.Fatalf("%s=%q: want a duration of at least 10s", WindowEnv, w)
	}
	timing := election.Config{LeaseTTL: election.DefaultLeaseTTL, RenewDeadline: election.DefaultRenewDeadline, RetryPeriod: election.DefaultRetryPeriod}
	var (
		mu   sync.Mutex
		runs []Run
	)
	t.Run("groups", func(t *testing.T) {
		for _, g := range []struct {
			name, pricing string
			nodes         func(t *testing.T) newNode
		}{
			{"dynamodb", "dynamodb", dynamoNodes},
			{"azblob-native", "azblob", azureNodes(azblob.AzureModeNative)},
			{"azblob-record", "azblob", azureNodes(azblob.AzureModeRecord)},
			{"etcd", "", etcdNodes},
			{"gcs", "gcs", gcsNodes},
		} {
			t.Run(g.name, func(t *testing.T) {
				t.Parallel()
				leader, follower := countGroup(t, g.nodes(t), timing, window)
				mu.Lock()
				runs = append(runs, Run{Backend: g.name, Pricing: g.pricing, Leader: leader, Follower: follower})
				mu.Unlock()
			})
		}
	})
	if t.Failed() {
		return
	}
	slices.SortFunc(runs, func(a, b Run) int { return strings.Compare(a.Backend, b.Backend) })
	out := Counts{
		Command: "scripts/bench/leasecost.sh " + w,
		Date:    time.Now().UTC().Format("2006-01-02"),
		Window:  window.String(),
		Timing:  fmt.Sprintf("%s/%s/%s", timing.LeaseTTL, timing.RenewDeadline, timing.RetryPeriod),
		Runs:    runs,
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	t.Logf("%s", b)
	if path := os.Getenv("LBHC_BENCH_LEASECOST_OUT"); path != "" {
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// countGroup runs two engines until one leads, then counts each node's
// requests for window and returns them per hour.
func countGroup(t *testing.T, mk newNode, timing election.Config, window time.Duration) (leader, follower map[string]float64) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	type node struct {
		c   *Counter
		eng *election.Engine
	}
	var nodes []node
	for _, id := range []string{"a", "b"} {
		c := NewCounter()
		b := mk(t, id, c)
		tm := timing
		tm.NodeID = id
		eng, err := election.NewEngine(tm, b, election.Options{})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, node{c, eng})
		wg.Add(2)
		go func() { defer wg.Done(); _ = eng.Run(ctx); _ = b.Close() }()
		go func() {
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
	lead := -1
	for end := time.Now().Add(timing.LeaseTTL + 4*timing.RetryPeriod); lead < 0 && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		for i, n := range nodes {
			if n.eng.Status().Leading {
				lead = i
			}
		}
	}
	if lead < 0 {
		t.Fatal("no leader")
	}
	time.Sleep(2 * timing.RetryPeriod) // past the first renewal and the follower's first look
	for _, n := range nodes {
		n.c.Reset()
	}
	time.Sleep(window)
	scale := float64(time.Hour) / float64(window)
	for i, n := range nodes {
		m := map[string]float64{}
		for op, k := range n.c.Reset() {
			m[op] = float64(k) * scale
		}
		if i == lead {
			leader = m
		} else {
			follower = m
		}
	}
	if !nodes[lead].eng.Status().Leading {
		t.Fatal("the leader changed during the count")
	}
	return leader, follower
}
