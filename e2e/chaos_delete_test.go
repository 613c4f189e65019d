//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/azblob"
	dynlease "github.com/lbhc/lbhc/election/dynamodb"
	"github.com/lbhc/lbhc/election/etcd"
)

// Deleting the lease record while a node leads (by hand, a
// DynamoDB table TTL, a storage lifecycle policy) must not give two
// leaders nor reuse a term. Per record store, LBHC_CHAOS_DELETE_REPS
// trials behind HAProxy (default 3 to fit CI's time; a thorough run sets
// LBHC_CHAOS_DELETE_REPS=20): zero probe rounds with two nodes
// answering (RunScenario asserts it), and the term after the takeover above
// every term any node reported before the deletion. The Azure native lease
// has no such record: its blob cannot be deleted while leased without
// breaking the lease, which is the lost-lease case.
func TestChaosDeleteRecord(t *testing.T) {
	reps := 3
	if v := os.Getenv("LBHC_CHAOS_DELETE_REPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			t.Fatalf("LBHC_CHAOS_DELETE_REPS=%q: want 1..100", v)
		}
		reps = n
	}
	for _, kind := range []string{BackendFile, BackendDynamoDB, BackendAzureRecord, BackendGCS, BackendEtcd} {
		t.Run(kind, func(t *testing.T) {
			c := NewCluster(t, kind, timingFast)
			del := recordDeleter(t, c)
			for rep := range reps {
				var before uint64
				sc := scenario{name: "delete-record",
					inject: func(c *Cluster, old *Node) {
						before = maxTerm(c)
						del()
						// The leader demotes at its next renewal; wait for
						// that so the settle below finds the next leader.
						end := time.Now().Add(c.Timing.Renew + time.Second)
						for slices.Contains(c.Probe.Current(), old.Host.Name) && time.Now().Before(end) {
							time.Sleep(probeEvery)
						}
					}}
				t.Run(fmt.Sprintf("#%d", rep+1), func(t *testing.T) {
					c.t = t
					r, _ := c.RunScenario(sc)
					s, err := c.Node(r.New).Status()
					if err != nil {
						t.Fatalf("status of %s: %v", r.New, err)
					}
					if s.Term <= before {
						t.Errorf("term %d of %s after the record was deleted, not above term %d seen before", s.Term, r.New, before)
					}
				})
				if t.Failed() {
					return
				}
			}
		})
	}
}

// maxTerm is the highest term any running node reports.
func maxTerm(c *Cluster) uint64 {
	var m uint64
	for _, n := range c.Nodes {
		if s, err := n.Status(); err == nil {
			m = max(m, s.Term)
		}
	}
	return m
}

// recordDeleter returns a func that deletes the cluster's lease record
// with the store's own client, reaching networked servers from the hub
// namespace (where they listen), not through the nodes' delay proxy.
func recordDeleter(t *testing.T, c *Cluster) func() {
	t.Helper()
	const lease = "lbhc" // --lease-name default: blob, item key, etcd key
	hubDial := dialer(t, c.Net.Hub)
	srv := net.JoinHostPort(c.Net.SvcIP(), strconv.Itoa(serverPort))
	httpc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		return hubDial(addr, 2*time.Second)
	}}}
	ctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 5*time.Second)
	}
	switch c.Backend.Kind {
	case BackendFile:
		// Under the lease file's lock: an rm racing a renewal's rename is
		// undone by it (safe, but no deletion to test).
		fs, err := election.NewFileStore(c.Backend.Args[slices.Index(c.Backend.Args, "--lease-file")+1])
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			cx, cancel := ctx()
			defer cancel()
			if err := fs.Delete(cx); err != nil {
				t.Errorf("delete the lease file: %v", err)
			}
		}
	case BackendDynamoDB:
		cli := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: httpc,
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
			func(o *dynamodb.Options) { o.BaseEndpoint = aws.String("http://" + srv) })
		return func() {
			cx, cancel := ctx()
			defer cancel()
			_, err := cli.DeleteItem(cx, &dynamodb.DeleteItemInput{TableName: aws.String("lbhc"),
				Key: map[string]types.AttributeValue{dynlease.DynamoDBKeyAttr: &types.AttributeValueMemberS{Value: lease}}})
			if err != nil {
				t.Errorf("delete item: %v", err)
			}
		}
	case BackendAzureRecord:
		cs := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://%s/%s;",
			azuriteAccountName, azuriteWellKnownKey, srv, azuriteAccountName)
		cc, err := container.NewClientFromConnectionString(cs, azblob.DefaultAzureContainer,
			&container.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: httpc}})
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			cx, cancel := ctx()
			defer cancel()
			if _, err := cc.NewBlobClient(lease).Delete(cx, nil); err != nil {
				t.Errorf("delete blob: %v", err)
			}
		}
	case BackendGCS:
		// A plain JSON API delete, unconditional as a lifecycle rule's is;
		// the object is --gcs-object-prefix's default + the lease name.
		u := "http://" + srv + "/storage/v1/b/" + gcsBucket + "/o/" + url.PathEscape("lbhc/"+lease)
		return func() {
			cx, cancel := ctx()
			defer cancel()
			req, err := http.NewRequestWithContext(cx, http.MethodDelete, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := httpc.Do(req)
			if err != nil {
				t.Errorf("delete object: %v", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
				t.Errorf("delete object: HTTP %d", resp.StatusCode)
			}
		}
	case BackendEtcd:
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + srv}, DialTimeout: 5 * time.Second,
			DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(_ context.Context, addr string) (net.Conn, error) {
				return hubDial(addr, 2*time.Second)
			})}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		key := etcd.EtcdKey("/lbhc", lease)
		return func() {
			cx, cancel := ctx()
			defer cancel()
			if r, err := cli.Delete(cx, key); err != nil || r.Deleted != 1 {
				t.Errorf("delete etcd key %s: %v (deleted %d)", key, err, r.Deleted)
			}
		}
	}
	t.Fatalf("no record to delete for backend %q", c.Backend.Kind)
	return nil
}
