package cmdline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/itest"
)

// runDynamoDBFlags parses args with the DynamoDB and common AWS flags and
// calls dynamodbBackend.
func runDynamoDBFlags(t *testing.T, args ...string) (election.Backend, error) {
	t.Helper()
	return runDynamoDBFlagsAs(t, "node-1", args...)
}

// runDynamoDBFlagsAs is runDynamoDBFlags for node id.
func runDynamoDBFlagsAs(t *testing.T, id string, args ...string) (election.Backend, error) {
	t.Helper()
	// Static dummy credentials; nothing from the developer's AWS setup.
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/lbhc-test")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/lbhc-test")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_PROFILE", "")
	var b election.Backend
	app := &cli.App{
		Name: "lbhc", Flags: append(dynamodbFlags(), awsCommonFlags()...), Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			if err := dynamodbCheck(c, "grp", 2*time.Second); err != nil {
				return err
			}
			var err error
			b, err = dynamodbBackend(c.Context, c, id, "grp", 2*time.Second)
			return err
		},
	}
	err := app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	return b, err
}

func TestDynamoDBFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"short table", []string{"--dynamodb-table=ab", "--aws-region=us-east-1"},
			`invalid --dynamodb-table: "ab" is not a DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.')`},
		{"bad character", []string{"--dynamodb-table=lbhc/leases", "--aws-region=us-east-1"},
			`invalid --dynamodb-table: "lbhc/leases" is not a DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := runDynamoDBFlags(t, tc.args...)
			if b != nil {
				t.Fatal("got a backend for invalid flags")
			}
			if err == nil || err.Error() != tc.want || exitCode(err) != 2 {
				t.Fatalf("err = %v (exit %d)\nwant %s (exit 2)", err, exitCode(err), tc.want)
			}
		})
	}
}

func TestDynamoDBFlagsFromEnv(t *testing.T) {
	for _, f := range dynamodbFlags() {
		name := f.Names()[0]
		if ev := f.(interface{ GetEnvVars() []string }).GetEnvVars(); len(ev) != 1 || ev[0] != envs(name)[0] {
			t.Errorf("--%s env vars %v, want %v", name, ev, envs(name))
		}
	}
	t.Setenv("LBHC_DYNAMODB_TABLE", "x")
	_, err := runDynamoDBFlags(t, "--aws-region=us-east-1")
	if err == nil || !strings.HasPrefix(err.Error(), `invalid --dynamodb-table: "x" is not`) {
		t.Fatalf("err = %v", err)
	}
}

func TestDynamoDBFlagsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "http://" + l.Addr().String()
	l.Close()
	_, err = runDynamoDBFlags(t, "--aws-region=us-east-1", "--aws-endpoint="+ep)
	want := "dynamodb DescribeTable: endpoint unreachable (check --aws-endpoint and --aws-region): "
	if err == nil || !strings.HasPrefix(err.Error(), want) || exitCode(err) != 1 {
		t.Fatalf("err = %v (exit %d)\nwant prefix %s (exit 1)", err, exitCode(err), want)
	}
}

// TestDynamoDBFlagsTable: a missing table is exit 2 without
// --dynamodb-create-table, and created with it.
func TestDynamoDBFlagsTable(t *testing.T) {
	ep := itest.Env(t, "LBHC_TEST_DYNAMODB_ENDPOINT")
	table := fmt.Sprintf("lbhc-flags-%d", time.Now().UnixNano())
	args := []string{"--aws-region=us-east-1", "--aws-endpoint=" + ep, "--dynamodb-table=" + table}
	_, err := runDynamoDBFlags(t, args...)
	var ce *election.ConfigError
	if !errors.As(err, &ce) || ce.Flag != "dynamodb-table" || exitCode(err) != 2 {
		t.Fatalf("missing table: err = %v (exit %d), want a --dynamodb-table config error", err, exitCode(err))
	}
	b, err := runDynamoDBFlags(t, append(args, "--dynamodb-create-table")...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := acquireFresh(ctx, b)
	if err != nil || !st.Held || st.Term != 1 || st.Leader != "node-1" {
		t.Fatalf("acquire: %+v, %v", st, err)
	}
	// Now the table exists: no create flag needed.
	b2, err := runDynamoDBFlagsAs(t, "node-2", args...)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	st, err = b2.TryAcquire(ctx, false)
	if err != nil || st.Held || st.Leader != "node-1" || st.Term != 1 {
		t.Fatalf("second candidate: %+v, %v", st, err)
	}
}
