package cmdline

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/dynamodb"
)

// Start-up bounds of the DynamoDB preflight (DescribeTable + GetItem), and
// of creating an on-demand table and waiting until it is ACTIVE.
const (
	dynamodbPreflightTimeout = 30 * time.Second
	dynamodbCreateTimeout    = 3 * time.Minute
)

// dynamodbFlags are the flags of --election dynamodb. --aws-region and
// --aws-endpoint come from awsCommonFlags (flags_aws.go), which awsFlags
// already includes, so they are not repeated here.
func dynamodbFlags() []cli.Flag {
	const cat = "Election: DynamoDB"
	return []cli.Flag{
		&cli.StringFlag{Name: "dynamodb-table", Category: cat, EnvVars: envs("dynamodb-table"), Value: "lbhc",
			Usage: "DynamoDB table of the lease items (key: " + dynamodb.DynamoDBKeyAttr + ", type S, HASH)"},
		&cli.BoolFlag{Name: "dynamodb-create-table", Category: cat, EnvVars: envs("dynamodb-create-table"),
			Usage: "create the table (on-demand billing) when it is missing, and wait until it is ACTIVE"},
	}
}

// dynamodbBackend is --election dynamodb: the CAS lease algorithm over one
// item of the table. It checks the table, credentials and endpoint before
// returning, so a bad setup fails at start-up.
// dynamodbCheck validates the DynamoDB lease flags without I/O.
func dynamodbCheck(c *cli.Context, _ string, _ time.Duration) error {
	return dynamodb.ValidateDynamoDBTable(c.String("dynamodb-table"))
}

func dynamodbBackend(ctx context.Context, c *cli.Context, nodeID, leaseName string, ttl time.Duration) (election.Backend, error) {
	table := c.String("dynamodb-table")
	cfg, err := awsConfigFrom(c)
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	create := c.Bool("dynamodb-create-table")
	limit := dynamodbPreflightTimeout
	if create {
		limit = dynamodbCreateTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	st, err := dynamodb.NewDynamoDBStore(ctx, dynamodb.NewDynamoDBClient(cfg), table, leaseName, create)
	if err != nil {
		return nil, err
	}
	return election.NewCASBackend(st, nodeID, ttl, nil), nil
}
