package dynamodb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lbhc/lbhc/configerr"
	"github.com/lbhc/lbhc/election"
)

// Attribute names of the lease item: one item per lease group. The table's
// only key is DynamoDBKeyAttr (S, HASH); the rest are plain attributes, so a
// Terraform/CloudFormation table needs just the key definition.
const (
	DynamoDBKeyAttr = "lease_name"        // S: the --lease-name
	dynHolderAttr   = "holder"            // S: node id of the holder; absent after a release
	dynTermAttr     = "term"              // N: fencing number of the current grant
	dynVersionAttr  = "version"           // S: random UUID, new on every write
	dynTTLAttr      = "lease_duration_ms" // N: the holder's lease-ttl in milliseconds
)

// DynamoDB call policy. The engine bounds every call by its deadline, so the
// SDK may retry only briefly inside it: two attempts, a short backoff and no
// retry quota (a quota drained by an outage would keep failing calls after
// the service is back).
const (
	dynamoMaxAttempts = 2
	dynamoMaxBackoff  = 200 * time.Millisecond
	// dynamoCreateWait bounds waiting for a created table to become ACTIVE
	// when the caller's context has no deadline. On-demand tables usually
	// take seconds.
	dynamoCreateWait = 5 * time.Minute
)

// DynamoDBAPI is the part of DynamoDB the lease store uses (*DynamoDBClient).
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

// NewDynamoDBClient builds a DynamoDB client from cfg (region, credentials,
// BaseEndpoint) with the lease store's retry policy.
func NewDynamoDBClient(cfg aws.Config) *DynamoDBClient {
	c := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = dynamoMaxAttempts
			so.MaxBackoff = dynamoMaxBackoff
			so.RateLimiter = ratelimit.None
		})
	})
	return &DynamoDBClient{
		getItem:       c.GetItem,
		putItem:       c.PutItem,
		describeTable: c.DescribeTable,
		createTable:   c.CreateTable,
	}
}

// DynamoDBClient holds method values of the four operations the store
// calls, never *dynamodb.Client itself: a client that reaches an interface
// value, `any` or fmt (or a field of a type that does) makes the linker keep
// all of DynamoDB's operations, since text/template (help output) uses
// reflect's method lookup. See cloud/aws/awsclient.go.
type DynamoDBClient struct {
	getItem       func(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	putItem       func(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	describeTable func(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	createTable   func(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

func (d *DynamoDBClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return d.getItem(ctx, in, opts...)
}

func (d *DynamoDBClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return d.putItem(ctx, in, opts...)
}

func (d *DynamoDBClient) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return d.describeTable(ctx, in, opts...)
}

func (d *DynamoDBClient) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return d.createTable(ctx, in, opts...)
}

// DynamoDBStore is a Store over one item of a DynamoDB table. Writes are
// conditional PutItems: create on attribute_not_exists(lease_name), update on
// version = previous version. Reads are strongly consistent.
type DynamoDBStore struct {
	api   DynamoDBAPI
	table string
	key   string
}

// dynamoTableName checks DynamoDB's table name rules. Not a regexp: the
// bounded repetition {3,255} compiles to a 229 kB program, allocated at
// start-up and live for the whole run on every node (GODEBUG=inittrace=1).
func dynamoTableName(s string) bool {
	if len(s) < 3 || len(s) > 255 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// ValidateDynamoDBTable checks a table name against DynamoDB's rules
// (3–255 characters of letters, digits, '_', '-', '.').
func ValidateDynamoDBTable(table string) error {
	if !dynamoTableName(table) {
		return configerr.New("dynamodb-table", "%q is not a DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.')", table)
	}
	return nil
}

// NewDynamoDBStore checks the table (preflight) and returns the store for
// item leaseName. A missing table is created (on-demand billing) only when
// create is true, and then waited for until ACTIVE; otherwise it is a
// ConfigError naming --dynamodb-table. Rejected credentials, missing
// permissions (checked for DescribeTable, GetItem and PutItem; the PutItem
// check never writes) and an unreachable endpoint are errors that say so.
func NewDynamoDBStore(ctx context.Context, api DynamoDBAPI, table, leaseName string, create bool) (*DynamoDBStore, error) {
	if err := ValidateDynamoDBTable(table); err != nil {
		return nil, err
	}
	if leaseName == "" || len(leaseName) > 2048 {
		return nil, configerr.New("lease-name", "must be 1-2048 bytes for a DynamoDB key, got %d", len(leaseName))
	}
	s := &DynamoDBStore{api: api, table: table, key: leaseName}
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf) && !create:
		return nil, configerr.New("dynamodb-table", "table %q not found (create it with the key %s (S, HASH), or pass --dynamodb-create-table)", table, DynamoDBKeyAttr)
	case errors.As(err, &nf):
		if err := s.createTable(ctx); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, preflightError(table, "DescribeTable", err)
	default:
		if err := checkKeySchema(table, out.Table); err != nil {
			return nil, err
		}
		if out.Table.TableStatus == types.TableStatusCreating {
			if err := s.waitActive(ctx); err != nil {
				return nil, err
			}
		}
	}
	// Prove the item permissions now rather than at the first campaign: a
	// consistent read, and a write whose condition can never hold (IAM is
	// checked before the condition, so it fails as denied or as
	// ConditionalCheckFailed, and never writes).
	if _, err := api.GetItem(ctx, s.getInput()); err != nil {
		return nil, preflightError(table, "GetItem", err)
	}
	if err := s.probeWrite(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *DynamoDBStore) probeWrite(ctx context.Context) error {
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     encodeLeaseItem(s.key, election.Record{}, "write-probe"),
		ConditionExpression:      aws.String("attribute_exists(#k) AND attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": DynamoDBKeyAttr},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return nil
	case err == nil:
		return fmt.Errorf("dynamodb: table %q accepted a write whose condition cannot hold; is --aws-endpoint a real DynamoDB?", s.table)
	}
	return preflightError(s.table, "PutItem", err)
}

// checkKeySchema requires lease_name (S) as the table's only key.
func checkKeySchema(table string, td *types.TableDescription) error {
	if td == nil {
		return fmt.Errorf("dynamodb: DescribeTable %q returned no table description", table)
	}
	var keys []string
	for _, k := range td.KeySchema {
		keys = append(keys, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	ok := len(td.KeySchema) == 1 && aws.ToString(td.KeySchema[0].AttributeName) == DynamoDBKeyAttr &&
		td.KeySchema[0].KeyType == types.KeyTypeHash
	if ok {
		for _, a := range td.AttributeDefinitions {
			if aws.ToString(a.AttributeName) == DynamoDBKeyAttr && a.AttributeType != types.ScalarAttributeTypeS {
				ok = false
				keys[0] += " (" + string(a.AttributeType) + ")"
			}
		}
	}
	if !ok {
		return configerr.New("dynamodb-table", "table %q has the key schema %v; lbhc needs %s (S) as its only key (HASH)", table, keys, DynamoDBKeyAttr)
	}
	return nil
}

func (s *DynamoDBStore) createTable(ctx context.Context) error {
	_, err := s.api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(s.table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(DynamoDBKeyAttr), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(DynamoDBKeyAttr), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) { // in use: another node is creating it right now
		return preflightError(s.table, "CreateTable", err)
	}
	return s.waitActive(ctx)
}

func (s *DynamoDBStore) waitActive(ctx context.Context) error {
	wait := dynamoCreateWait
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	w := dynamodb.NewTableExistsWaiter(s.api, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 500*time.Millisecond, 5*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, wait); err != nil {
		return fmt.Errorf("dynamodb: table %q did not become ACTIVE: %w", s.table, err)
	}
	return nil
}

// Get reads the item with a strongly consistent read.
func (s *DynamoDBStore) Get(ctx context.Context) (election.Record, string, error) {
	out, err := s.api.GetItem(ctx, s.getInput())
	if err != nil {
		return election.Record{}, "", classifyDynamoDB(s.table, "GetItem", err)
	}
	if len(out.Item) == 0 {
		return election.Record{}, "", fmt.Errorf("dynamodb table %q item %q: %w", s.table, s.key, election.ErrNotFound)
	}
	rec, ver, err := decodeLeaseItem(out.Item)
	if err != nil {
		return election.Record{}, "", fmt.Errorf("dynamodb table %q item %q: %w", s.table, s.key, err)
	}
	return rec, ver, nil
}

func (s *DynamoDBStore) getInput() *dynamodb.GetItemInput {
	return &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{DynamoDBKeyAttr: &types.AttributeValueMemberS{Value: s.key}},
		ConsistentRead: aws.Bool(true),
	}
}

// Create writes rec only if the item does not exist.
func (s *DynamoDBStore) Create(ctx context.Context, rec election.Record) (string, error) {
	return s.put(ctx, rec, "attribute_not_exists(#k)", map[string]string{"#k": DynamoDBKeyAttr}, nil)
}

// Update writes rec only if the item's version is still prev.
func (s *DynamoDBStore) Update(ctx context.Context, rec election.Record, prev string) (string, error) {
	return s.put(ctx, rec, "#v = :prev", map[string]string{"#v": dynVersionAttr},
		map[string]types.AttributeValue{":prev": &types.AttributeValueMemberS{Value: prev}})
}

func (s *DynamoDBStore) put(ctx context.Context, rec election.Record, cond string, names map[string]string, vals map[string]types.AttributeValue) (string, error) {
	ver, err := newVersion()
	if err != nil {
		return "", err
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      encodeLeaseItem(s.key, rec, ver),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	if err != nil {
		return "", classifyDynamoDB(s.table, "PutItem", err)
	}
	return ver, nil
}

// Close is a no-op: the SDK client holds no resources that need closing.
func (s *DynamoDBStore) Close() error { return nil }

// encodeLeaseItem is the item for rec. An empty holder (released lease) is
// left out rather than stored as an empty string.
func encodeLeaseItem(key string, rec election.Record, ver string) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		DynamoDBKeyAttr: &types.AttributeValueMemberS{Value: key},
		dynTermAttr:     &types.AttributeValueMemberN{Value: strconv.FormatUint(rec.Term, 10)},
		dynVersionAttr:  &types.AttributeValueMemberS{Value: ver},
		dynTTLAttr:      &types.AttributeValueMemberN{Value: strconv.FormatInt(rec.TTL.Milliseconds(), 10)},
	}
	if rec.Holder != "" {
		item[dynHolderAttr] = &types.AttributeValueMemberS{Value: rec.Holder}
	}
	return item
}

// decodeLeaseItem parses an item written by encodeLeaseItem.
func decodeLeaseItem(item map[string]types.AttributeValue) (election.Record, string, error) {
	var rec election.Record
	if h, ok := item[dynHolderAttr]; ok {
		s, ok := h.(*types.AttributeValueMemberS)
		if !ok {
			return election.Record{}, "", fmt.Errorf("%w: attribute %s is not a string", election.ErrCorrupt, dynHolderAttr)
		}
		rec.Holder = s.Value
	}
	term, err := numAttr(item, dynTermAttr)
	if err != nil {
		return election.Record{}, "", err
	}
	rec.Term = term
	ms, err := numAttr(item, dynTTLAttr)
	if err != nil {
		return election.Record{}, "", err
	}
	if ms > uint64(election.MaxRecordTTL.Milliseconds()) {
		return election.Record{}, "", fmt.Errorf("%w: attribute %s %d above %d", election.ErrCorrupt, dynTTLAttr, ms, election.MaxRecordTTL.Milliseconds())
	}
	if rec.TTL, err = election.RecordTTL(int64(ms)); err != nil {
		return election.Record{}, "", err
	}
	v, ok := item[dynVersionAttr].(*types.AttributeValueMemberS)
	if !ok || v.Value == "" {
		return election.Record{}, "", fmt.Errorf("%w: attribute %s missing or not a non-empty string", election.ErrCorrupt, dynVersionAttr)
	}
	return rec, v.Value, nil
}

func numAttr(item map[string]types.AttributeValue, name string) (uint64, error) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%w: attribute %s missing or not a number", election.ErrCorrupt, name)
	}
	u, err := strconv.ParseUint(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: attribute %s: %w", election.ErrCorrupt, name, err)
	}
	return u, nil
}

// newVersion is a random (version 4) UUID: versions never repeat, so an
// ABA write (same holder, same term) still changes the version a follower
// watches.
func newVersion() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("dynamodb: random version: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
