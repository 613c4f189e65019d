package dynamodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lbhc/lbhc/election"
)

// classifyDynamoDB maps an SDK error of a lease operation: a failed
// condition is ErrConflict (the CAS logic turns it into "lease lost" or
// "someone else won"); everything else — throttling, 5xx, network, a deleted
// table — stays a transient error the engine retries until its deadline.
func classifyDynamoDB(table, op string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("dynamodb %s on table %q: condition failed: %w", op, table, election.ErrConflict)
	}
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("dynamodb %s: table %q not found (deleted?): %w", op, table, err)
	}
	return fmt.Errorf("dynamodb %s on table %q: %w", op, table, err)
}

// Error codes meaning the request's credentials were not accepted.
var dynamoCredentialCodes = map[string]bool{
	"UnrecognizedClientException":         true,
	"InvalidSignatureException":           true,
	"MissingAuthenticationToken":          true,
	"MissingAuthenticationTokenException": true,
	"IncompleteSignatureException":        true,
	"ExpiredTokenException":               true,
	"InvalidClientTokenId":                true,
	"SignatureDoesNotMatch":               true,
}

// preflightError explains a start-up failure: rejected credentials, a
// missing permission, or an endpoint that does not answer.
func preflightError(table, op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); {
		case dynamoCredentialCodes[code]:
			return fmt.Errorf("dynamodb %s: AWS credentials rejected (%s): check the credential chain "+
				"(instance role, AWS_PROFILE, AWS_ACCESS_KEY_ID) and --aws-region: %w", op, code, err)
		case code == "AccessDeniedException":
			return fmt.Errorf("dynamodb %s on table %q: access denied: the IAM policy must allow "+
				"dynamodb:DescribeTable, dynamodb:GetItem and dynamodb:PutItem on it "+
				"(and dynamodb:CreateTable with --dynamodb-create-table): %w", op, table, err)
		}
		return fmt.Errorf("dynamodb %s on table %q: %w", op, table, err)
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("dynamodb %s: endpoint unreachable (check --aws-endpoint and --aws-region): %w", op, err)
	}
	return fmt.Errorf("dynamodb %s on table %q: %w", op, table, err)
}
