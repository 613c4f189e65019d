package azure

import (
	"context"
	"errors"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/lbhc/lbhc/cloud"
)

// azureRetriable reports whether another attempt may succeed.
func azureRetriable(err error) bool {
	if errors.Is(err, cloud.ErrNotLeader) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusConflict, // AnotherOperationInProgress
			re.StatusCode == http.StatusTooManyRequests,
			re.StatusCode == http.StatusRequestTimeout,
			re.StatusCode >= 500:
			return true
		case re.StatusCode >= 400:
			// Bad request, no permission, table not found: retrying
			// cannot help. A failed LRO (status 200 with state Failed)
			// falls through and is retried.
			return false
		}
	}
	return true // network errors, failed operations, verify mismatches
}

// azureValidKey carries Event.Valid (func() bool) in a request context.
type azureValidKey struct{}

// azureValidPolicy refuses every try of a mutating request once the
// leadership deadline has passed, so the SDK's own retries (after a 429 or
// 5xx) never write for a node that has stopped leading.
type azureValidPolicy struct{}

func (azureValidPolicy) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Method != http.MethodGet {
		if valid, _ := req.Raw().Context().Value(azureValidKey{}).(func() bool); valid != nil && !valid() {
			return nil, azureNotLeaderError{}
		}
	}
	return req.Next()
}

// azureNotLeaderError is ErrNotLeader marked non-retriable for the SDK's
// retry policy (which looks for a NonRetriable method).
type azureNotLeaderError struct{}

func (azureNotLeaderError) Error() string { return cloud.ErrNotLeader.Error() }
func (azureNotLeaderError) Unwrap() error { return cloud.ErrNotLeader }
func (azureNotLeaderError) NonRetriable() {}
