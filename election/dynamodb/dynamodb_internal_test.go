package dynamodb

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lbhc/lbhc/election"
)

func TestValidateDynamoDBTable(t *testing.T) {
	for _, tc := range []struct {
		table, err string
	}{
		{"lbhc", ""},
		{"my_table.v-2", ""},
		{"ab", `invalid --dynamodb-table: "ab" is not a DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.')`},
		{"has space", `invalid --dynamodb-table: "has space" is not a DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.')`},
		{"", `invalid --dynamodb-table: "" is not a DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.')`},
		{strings.Repeat("a", 255), ""},
		{"t\u00e4ble", "invalid --dynamodb-table: \"t\u00e4ble\" is not a DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.')"},
	} {
		err := ValidateDynamoDBTable(tc.table)
		if got := errString(err); got != tc.err {
			t.Errorf("ValidateDynamoDBTable(%q) = %q, want %q", tc.table, got, tc.err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestLeaseItemRoundTrip(t *testing.T) {
	for _, rec := range []election.Record{
		{Holder: "node-1", Term: 7, TTL: 15 * time.Second},
		{Holder: "", Term: 1 << 60, TTL: 1500 * time.Millisecond}, // released
	} {
		item := encodeLeaseItem("grp", rec, "v-1")
		if k := item[DynamoDBKeyAttr].(*types.AttributeValueMemberS).Value; k != "grp" {
			t.Fatalf("key %q", k)
		}
		if _, ok := item[dynHolderAttr]; ok != (rec.Holder != "") {
			t.Fatalf("holder attribute present = %v for holder %q", ok, rec.Holder)
		}
		got, ver, err := decodeLeaseItem(item)
		if err != nil || got != rec || ver != "v-1" {
			t.Fatalf("decode = %+v %q %v, want %+v", got, ver, err, rec)
		}
	}
}

func TestDecodeLeaseItemErrors(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	for _, tc := range []struct {
		name string
		item map[string]types.AttributeValue
		err  string
	}{
		{"holder not a string", map[string]types.AttributeValue{dynHolderAttr: n("1"), dynTermAttr: n("1"), dynTTLAttr: n("1"), dynVersionAttr: s("v")},
			"lease record is not valid: attribute holder is not a string"},
		{"no term", map[string]types.AttributeValue{dynTTLAttr: n("1"), dynVersionAttr: s("v")},
			"lease record is not valid: attribute term missing or not a number"},
		{"negative term", map[string]types.AttributeValue{dynTermAttr: n("-1"), dynTTLAttr: n("1"), dynVersionAttr: s("v")},
			`lease record is not valid: attribute term: strconv.ParseUint: parsing "-1": invalid syntax`},
		{"ttl zero", map[string]types.AttributeValue{dynTermAttr: n("1"), dynTTLAttr: n("0"), dynVersionAttr: s("v")},
			"lease record is not valid: lease_duration_ms 0 is not in 1..86400000"},
		{"ttl huge", map[string]types.AttributeValue{dynTermAttr: n("1"), dynTTLAttr: n("18446744073709551615"), dynVersionAttr: s("v")},
			"lease record is not valid: attribute lease_duration_ms 18446744073709551615 above 86400000"},
		{"ttl a string", map[string]types.AttributeValue{dynTermAttr: n("1"), dynTTLAttr: s("1"), dynVersionAttr: s("v")},
			"lease record is not valid: attribute lease_duration_ms missing or not a number"},
		{"no version", map[string]types.AttributeValue{dynTermAttr: n("1"), dynTTLAttr: n("1")},
			"lease record is not valid: attribute version missing or not a non-empty string"},
		{"empty version", map[string]types.AttributeValue{dynTermAttr: n("1"), dynTTLAttr: n("1"), dynVersionAttr: s("")},
			"lease record is not valid: attribute version missing or not a non-empty string"},
	} {
		_, _, err := decodeLeaseItem(tc.item)
		if got := errString(err); got != tc.err {
			t.Errorf("%s: err %q, want %q", tc.name, got, tc.err)
		}
	}
}

func TestNewVersionUnique(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		v, err := newVersion()
		if err != nil {
			t.Fatal(err)
		}
		if !uuid.MatchString(v) {
			t.Fatalf("%q is not a version 4 UUID", v)
		}
		if seen[v] {
			t.Fatalf("version %q repeated", v)
		}
		seen[v] = true
	}
}

// opErr wraps err as the SDK does for a failed operation.
func opErr(op string, err error) error {
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: op, Err: err}
}

func TestClassifyDynamoDB(t *testing.T) {
	ccf := opErr("PutItem", &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")})
	throttle := opErr("PutItem", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"})
	internal := opErr("GetItem", &types.InternalServerError{Message: aws.String("boom")})
	notFound := opErr("GetItem", &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")})
	network := opErr("PutItem", &smithyhttp.RequestSendError{Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")})
	for _, tc := range []struct {
		name     string
		err      error
		conflict bool
		msg      string
	}{
		{"conditional check", ccf, true, `dynamodb PutItem on table "t1": condition failed: lease record changed concurrently`},
		{"throttling", throttle, false, `dynamodb PutItem on table "t1": operation error DynamoDB: PutItem, api error ThrottlingException: Rate exceeded`},
		{"5xx", internal, false, `dynamodb GetItem on table "t1": operation error DynamoDB: GetItem, InternalServerError: boom`},
		{"table gone", notFound, false, `dynamodb GetItem: table "t1" not found (deleted?): operation error DynamoDB: GetItem, ResourceNotFoundException: Requested resource not found`},
		{"network", network, false, `dynamodb PutItem on table "t1": operation error DynamoDB: PutItem, request send failed, dial tcp 127.0.0.1:1: connect: connection refused`},
		{"deadline", context.DeadlineExceeded, false, `dynamodb PutItem on table "t1": context deadline exceeded`},
	} {
		op := "PutItem"
		if tc.name == "5xx" || tc.name == "table gone" {
			op = "GetItem"
		}
		got := classifyDynamoDB("t1", op, tc.err)
		if errors.Is(got, election.ErrConflict) != tc.conflict {
			t.Errorf("%s: ErrConflict = %v, want %v", tc.name, !tc.conflict, tc.conflict)
		}
		if errors.Is(got, election.ErrLeaseLost) || errors.Is(got, election.ErrNotFound) {
			t.Errorf("%s: classified as lost/not found: %v", tc.name, got)
		}
		if got.Error() != tc.msg {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.msg)
		}
	}
}

func TestPreflightError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		msg  string
	}{
		{"bad key", opErr("DescribeTable", &smithy.GenericAPIError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}),
			"dynamodb DescribeTable: AWS credentials rejected (UnrecognizedClientException): check the credential chain (instance role, AWS_PROFILE, AWS_ACCESS_KEY_ID) and --aws-region: " +
				"operation error DynamoDB: DescribeTable, api error UnrecognizedClientException: The security token included in the request is invalid."},
		{"denied", opErr("DescribeTable", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}),
			`dynamodb DescribeTable on table "lbhc": access denied: the IAM policy must allow dynamodb:DescribeTable, dynamodb:GetItem and dynamodb:PutItem on it (and dynamodb:CreateTable with --dynamodb-create-table): ` +
				"operation error DynamoDB: DescribeTable, api error AccessDeniedException: not authorized"},
		{"unreachable", opErr("DescribeTable", &smithyhttp.RequestSendError{Err: errors.New("dial tcp: connection refused")}),
			"dynamodb DescribeTable: endpoint unreachable (check --aws-endpoint and --aws-region): operation error DynamoDB: DescribeTable, request send failed, dial tcp: connection refused"},
		{"timeout", context.DeadlineExceeded,
			"dynamodb DescribeTable: endpoint unreachable (check --aws-endpoint and --aws-region): context deadline exceeded"},
		{"other api error", opErr("DescribeTable", &smithy.GenericAPIError{Code: "ValidationException", Message: "bad"}),
			`dynamodb DescribeTable on table "lbhc": operation error DynamoDB: DescribeTable, api error ValidationException: bad`},
	} {
		if got := preflightError("lbhc", "DescribeTable", tc.err).Error(); got != tc.msg {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.msg)
		}
	}
}

func TestCheckKeySchema(t *testing.T) {
	key := func(name string, kt types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kt}
	}
	attr := func(name string, at types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: at}
	}
	for _, tc := range []struct {
		name string
		td   *types.TableDescription
		err  string
	}{
		{"ok", &types.TableDescription{KeySchema: []types.KeySchemaElement{key("lease_name", types.KeyTypeHash)},
			AttributeDefinitions: []types.AttributeDefinition{attr("lease_name", types.ScalarAttributeTypeS)}}, ""},
		{"range key", &types.TableDescription{KeySchema: []types.KeySchemaElement{key("lease_name", types.KeyTypeHash), key("sk", types.KeyTypeRange)}},
			`invalid --dynamodb-table: table "t" has the key schema [lease_name HASH sk RANGE]; lbhc needs lease_name (S) as its only key (HASH)`},
		{"number key", &types.TableDescription{KeySchema: []types.KeySchemaElement{key("lease_name", types.KeyTypeHash)},
			AttributeDefinitions: []types.AttributeDefinition{attr("lease_name", types.ScalarAttributeTypeN)}},
			`invalid --dynamodb-table: table "t" has the key schema [lease_name HASH (N)]; lbhc needs lease_name (S) as its only key (HASH)`},
		{"nil", nil, `dynamodb: DescribeTable "t" returned no table description`},
	} {
		if got := errString(checkKeySchema("t", tc.td)); got != tc.err {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.err)
		}
	}
}

// fakeDynamo answers the preflight requests with fixed results, to reach
// the error paths dynalite cannot produce (IAM denials).
type fakeDynamo struct {
	describe error
	get      error
	put      error
	puts     int
}

func (f *fakeDynamo) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if f.describe != nil {
		return nil, f.describe
	}
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{
		TableStatus:          types.TableStatusActive,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("lease_name"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("lease_name"), AttributeType: types.ScalarAttributeTypeS}},
	}}, nil
}

func (f *fakeDynamo) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.get != nil {
		return nil, f.get
	}
	return &dynamodb.GetItemOutput{}, nil
}

func (f *fakeDynamo) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.puts++
	if f.put != nil {
		return nil, f.put
	}
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fakeDynamo) CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return nil, errors.New("not used")
}

func TestDynamoDBPreflightPermissions(t *testing.T) {
	denied := func(op string) error {
		return opErr(op, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"})
	}
	ccf := opErr("PutItem", &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")})
	const policy = "access denied: the IAM policy must allow dynamodb:DescribeTable, dynamodb:GetItem and dynamodb:PutItem on it (and dynamodb:CreateTable with --dynamodb-create-table): "
	for _, tc := range []struct {
		name string
		f    fakeDynamo
		err  string
	}{
		{"all allowed", fakeDynamo{put: ccf}, ""},
		{"describe denied", fakeDynamo{describe: denied("DescribeTable")},
			`dynamodb DescribeTable on table "lbhc": ` + policy + "operation error DynamoDB: DescribeTable, api error AccessDeniedException: no"},
		{"get denied", fakeDynamo{get: denied("GetItem")},
			`dynamodb GetItem on table "lbhc": ` + policy + "operation error DynamoDB: GetItem, api error AccessDeniedException: no"},
		{"put denied", fakeDynamo{put: denied("PutItem")},
			`dynamodb PutItem on table "lbhc": ` + policy + "operation error DynamoDB: PutItem, api error AccessDeniedException: no"},
		{"probe written", fakeDynamo{},
			`dynamodb: table "lbhc" accepted a write whose condition cannot hold; is --aws-endpoint a real DynamoDB?`},
	} {
		f := tc.f
		_, err := NewDynamoDBStore(context.Background(), &f, "lbhc", "web", false)
		if got := errString(err); got != tc.err {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.err)
		}
	}
}
