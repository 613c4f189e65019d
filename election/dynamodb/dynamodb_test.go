package dynamodb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lbhc/lbhc/election"
	dynlease "github.com/lbhc/lbhc/election/dynamodb"
	"github.com/lbhc/lbhc/election/electiontest"
	"github.com/lbhc/lbhc/itest"
)

// dynamoClient talks to endpoint with static dummy credentials (dynalite
// accepts any).
func dynamoClient(endpoint string) *dynlease.DynamoDBClient {
	return dynlease.NewDynamoDBClient(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
	})
}

func dynamoTable(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }

func newDynamoStore(t *testing.T, cli *dynlease.DynamoDBClient, table, lease string, create bool) *dynlease.DynamoDBStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := dynlease.NewDynamoDBStore(ctx, cli, table, lease, create)
	if err != nil {
		t.Fatalf("NewDynamoDBStore(%s, %s): %v", table, lease, err)
	}
	return s
}

func TestConformanceDynamoDB(t *testing.T) {
	t.Parallel()
	cli := dynamoClient(itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT"))
	table := dynamoTable("lbhc-conf")
	newDynamoStore(t, cli, table, "setup", true) // create the table once
	electiontest.Run(t, electiontest.Suite{
		New: func(t *testing.T, lease, id string) electiontest.Candidate {
			st, set := electiontest.Cuttable(newDynamoStore(t, cli, table, lease, false))
			return electiontest.Candidate{Backend: election.NewCASBackend(st, id, ttl, nil), SetReachable: set}
		},
		Steal: func(t *testing.T, lease string) {
			electiontest.StealStore(t, newDynamoStore(t, cli, table, lease, false))
		},
		Delete: func(t *testing.T, lease string) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// A raw SDK client: lbhc itself never deletes the item, so its
			// wrapper (DynamoDBClient) does not offer DeleteItem.
			raw := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1",
				Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
				BaseEndpoint: aws.String(itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT"))})
			_, err := raw.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{dynlease.DynamoDBKeyAttr: &types.AttributeValueMemberS{Value: lease}}})
			if err != nil {
				t.Fatalf("delete item: %v", err)
			}
		},
		Store: func(t *testing.T, lease string) election.Store { return newDynamoStore(t, cli, table, lease, false) },
	})
}

// TestDynamoDBStoreCAS checks the store's contract directly: create once,
// conditional updates, fresh versions, a released (empty) holder.
func TestDynamoDBStoreCAS(t *testing.T) {
	t.Parallel()
	cli := dynamoClient(itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT"))
	s := newDynamoStore(t, cli, dynamoTable("lbhc-cas"), "g", true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, _, err := s.Get(ctx); !errors.Is(err, election.ErrNotFound) {
		t.Fatalf("get before create: %v, want ErrNotFound", err)
	}
	rec := election.Record{Holder: "n1", Term: 1, TTL: 1500 * time.Millisecond}
	v1, err := s.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, rec); !errors.Is(err, election.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	got, gv, err := s.Get(ctx)
	if err != nil || got != rec || gv != v1 {
		t.Fatalf("get = %+v %q %v, want %+v %q", got, gv, err, rec, v1)
	}
	// Same content again must still produce a new version.
	v2, err := s.Update(ctx, rec, v1)
	if err != nil || v2 == v1 {
		t.Fatalf("update: %q %v (previous %q)", v2, err, v1)
	}
	if _, err := s.Update(ctx, rec, v1); !errors.Is(err, election.ErrConflict) {
		t.Fatalf("update on a stale version: %v, want ErrConflict", err)
	}
	released := election.Record{Holder: "", Term: 1, TTL: 1500 * time.Millisecond}
	v3, err := s.Update(ctx, released, v2)
	if err != nil {
		t.Fatal(err)
	}
	got, gv, err = s.Get(ctx)
	if err != nil || got != released || gv != v3 {
		t.Fatalf("get after release = %+v %q %v", got, gv, err)
	}
}

func TestDynamoDBMissingTable(t *testing.T) {
	t.Parallel()
	cli := dynamoClient(itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT"))
	table := dynamoTable("lbhc-missing")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := dynlease.NewDynamoDBStore(ctx, cli, table, "g", false)
	want := fmt.Sprintf("invalid --dynamodb-table: table %q not found (create it with the key lease_name (S, HASH), or pass --dynamodb-create-table)", table)
	var ce *election.ConfigError
	if !errors.As(err, &ce) || err.Error() != want || ce.ExitCode() != 2 {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestDynamoDBWrongKeySchema(t *testing.T) {
	t.Parallel()
	cli := dynamoClient(itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT"))
	table := dynamoTable("lbhc-schema")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cli.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dynlease.NewDynamoDBStore(ctx, cli, table, "g", true)
	want := fmt.Sprintf("invalid --dynamodb-table: table %q has the key schema [id HASH]; lbhc needs lease_name (S) as its only key (HASH)", table)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// TestDynamoDBUnreachable: nothing listens on the endpoint.
func TestDynamoDBUnreachable(t *testing.T) {
	t.Parallel()
	cli := dynamoClient(fmt.Sprintf("http://127.0.0.1:%d", itest.FreePort(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := dynlease.NewDynamoDBStore(ctx, cli, "lbhc", "g", false)
	want := "dynamodb DescribeTable: endpoint unreachable (check --aws-endpoint and --aws-region): "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v\nwant prefix %s", err, want)
	}
	var ce *election.ConfigError
	if errors.As(err, &ce) {
		t.Fatalf("an unreachable endpoint is a runtime error, not a ConfigError: %v", err)
	}
}

// countStore counts the DynamoDB requests a candidate makes.
type countStore struct {
	election.Store
	reads, writes atomic.Int64
}

func (c *countStore) Get(ctx context.Context) (election.Record, string, error) {
	c.reads.Add(1)
	return c.Store.Get(ctx)
}

func (c *countStore) Create(ctx context.Context, r election.Record) (string, error) {
	c.writes.Add(1)
	return c.Store.Create(ctx, r)
}

func (c *countStore) Update(ctx context.Context, r election.Record, prev string) (string, error) {
	c.writes.Add(1)
	return c.Store.Update(ctx, r, prev)
}

// TestDynamoDBRequestRate measures requests per retry period in a stable
// group of three: the leader one conditional write, each follower one
// consistent read. The README's cost estimate at default timings rests on
// it (requests per hour = 3600 s / retry-period x this rate).
func TestDynamoDBRequestRate(t *testing.T) {
	t.Parallel()
	cli := dynamoClient(itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT"))
	table := dynamoTable("lbhc-rate")
	newDynamoStore(t, cli, table, "g", true)
	timing := election.Config{LeaseTTL: 1500 * time.Millisecond, RenewDeadline: time.Second, RetryPeriod: 250 * time.Millisecond}
	const periods = 20
	var stores []*countStore
	var engines []*election.Engine
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range 3 {
		cs := &countStore{Store: newDynamoStore(t, cli, table, "g", false)}
		cfg := timing
		cfg.NodeID = fmt.Sprintf("node-%d", i+1)
		eng, err := election.NewEngine(cfg, election.NewCASBackend(cs, cfg.NodeID, timing.LeaseTTL, nil), election.Options{})
		if err != nil {
			t.Fatal(err)
		}
		stores, engines = append(stores, cs), append(engines, eng)
		wg.Add(2)
		go func() { defer wg.Done(); _ = eng.Run(ctx) }()
		go func() { // keep the event channel drained
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
	// Let the group settle (first grant), then count over whole periods.
	deadline := time.Now().Add(5 * time.Second)
	leader := -1
	for leader < 0 && time.Now().Before(deadline) {
		for i, e := range engines {
			if e.Status().Leading {
				leader = i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if leader < 0 {
		t.Fatal("no leader within 5s")
	}
	time.Sleep(timing.RetryPeriod)
	type snap struct{ r, w int64 }
	before := make([]snap, len(stores))
	for i, s := range stores {
		before[i] = snap{s.reads.Load(), s.writes.Load()}
	}
	time.Sleep(periods * timing.RetryPeriod)
	for i, s := range stores {
		r, w := float64(s.reads.Load()-before[i].r)/periods, float64(s.writes.Load()-before[i].w)/periods
		role := "follower"
		if i == leader {
			role = "leader"
		}
		t.Logf("node-%d (%s): %.2f reads, %.2f writes per retry period", i+1, role, r, w)
		wantR, wantW := 1.0, 0.0
		if i == leader {
			wantR, wantW = 0, float64(timing.RetryPeriod)/float64(election.RenewInterval(timing))
		}
		// Followers read once per period, the leader writes once per renew
		// interval, give or take the edges of the window.
		if r < wantR-0.15 || r > wantR+0.15 || w < wantW-0.15 || w > wantW+0.15 {
			t.Errorf("node %d (%s): %.2f reads, %.2f writes per period; want %.2f and %.2f", i+1, role, r, w, wantR, wantW)
		}
	}
}

// ttl is the lease duration of the conformance suite's candidates, as in
// election's own conformance test.
const ttl = 1500 * time.Millisecond
