package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/aws/smithy-go"

	"github.com/lbhc/lbhc/cloud"
)

// AWSRetry is how an AWS action retries one API call. The SDK clients the
// actions use are built with their own retryer disabled (aws.NopRetryer):
// retrying here lets the action ask Event.Valid before every attempt of a
// mutating call, which the SDK's internal retries could not.
type AWSRetry struct {
	// Tries is the number of attempts in total (>= 1). LifeKeeper's Route53
	// kit uses 3 for the record update.
	Tries int
	// Interval is the wait before the second attempt; each further wait
	// doubles (backoff against throttling) up to MaxInterval.
	Interval    time.Duration
	MaxInterval time.Duration
	// AttemptTimeout bounds a single call, so a slow response is abandoned
	// and retried instead of eating the whole promotion budget. 0 = none.
	AttemptTimeout time.Duration
}

// DefaultAWSRetry follows LifeKeeper's Route53 tunables: 3 tries 2 s apart,
// backing off to at most 20 s when throttled; 10 s per call.
var DefaultAWSRetry = AWSRetry{Tries: 3, Interval: 2 * time.Second, MaxInterval: 20 * time.Second, AttemptTimeout: 10 * time.Second}

func (p AWSRetry) withDefaults() AWSRetry {
	if p.Tries < 1 {
		p.Tries = 1
	}
	if p.Interval <= 0 {
		p.Interval = DefaultAWSRetry.Interval
	}
	if p.MaxInterval < p.Interval {
		p.MaxInterval = p.Interval
	}
	return p
}

// awsRetryableCodes are API error codes worth another attempt: throttling in
// its EC2/Route53/generic spellings, Route53's "a change of this zone is still
// being applied", and server-side failures reported with a code.
var awsRetryableCodes = map[string]bool{
	"Throttling":                 true,
	"ThrottlingException":        true,
	"ThrottledException":         true,
	"RequestLimitExceeded":       true,
	"RequestThrottled":           true,
	"RequestThrottledException":  true,
	"TooManyRequestsException":   true,
	"PriorRequestNotComplete":    true,
	"ServiceUnavailable":         true,
	"Unavailable":                true,
	"InternalError":              true,
	"InternalFailure":            true,
	"RequestTimeout":             true,
	"RequestTimeoutException":    true,
	"IDPCommunicationError":      true,
	"EC2ThrottledException":      true,
	"ProvisionedThroughputError": true,
}

// awsRetryable reports whether err (from one attempt) is transient. parent
// is the caller's context: once it is done nothing is retried.
func awsRetryable(parent context.Context, err error) bool {
	if err == nil || parent.Err() != nil || errors.Is(err, cloud.ErrNotLeader) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && awsRetryableCodes[ae.ErrorCode()] {
		return true
	}
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		if c := se.HTTPStatusCode(); c >= 500 || c == 429 {
			return true
		}
		if c := se.HTTPStatusCode(); c >= 400 {
			return false // a definite answer from the service, e.g. AccessDenied
		}
	}
	// The attempt's own timeout (parent still alive) or a broken connection.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// awsErrCode returns the API error code in err's chain, or "".
func awsErrCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// awsCall runs fn under policy p. When write is true, ev.Valid is asked
// before every attempt and ErrNotLeader returned (without calling fn) once it
// reports false. what names the call in logs and errors.
func awsCall(ctx context.Context, p AWSRetry, log *slog.Logger, ev cloud.Event, write bool, what string, fn func(context.Context) error) error {
	p = p.withDefaults()
	wait := p.Interval
	var err error
	for attempt := 1; ; attempt++ {
		if write && !ev.Leading() {
			return fmt.Errorf("%s: %w", what, cloud.ErrNotLeader)
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if p.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, p.AttemptTimeout)
		}
		err = fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !awsRetryable(ctx, err) || attempt >= p.Tries {
			break
		}
		// ±20 % jitter so nodes throttled together do not retry in lockstep.
		d := wait + time.Duration((rand.Float64()*0.4-0.2)*float64(wait))
		log.Warn("aws call failed, retrying", "call", what, "attempt", attempt, "of", p.Tries, "retry_in", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, p.MaxInterval)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// awsVerify is the "check N times, M apart" policy used after a write to
// wait for the cloud state to read back as written.
type awsVerify struct {
	Tries    int
	Interval time.Duration
}

// awsJoin renders a short list for details and messages.
func awsJoin(xs []string) string { return strings.Join(xs, ", ") }

// actionDefaults fills the retry policy and the read-back after a change
// (tries reads, every apart) that every AWS action shares, where the
// configuration left them zero: 3 tries of each call, 4 reads 2 s apart.
func actionDefaults(retry *AWSRetry, every *time.Duration, tries *int) {
	if retry.Tries == 0 {
		*retry = DefaultAWSRetry
	}
	if *every <= 0 {
		*every = 2 * time.Second
	}
	if *tries <= 0 {
		*tries = 4
	}
}
