package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lbhc/lbhc/cloud"
)

func awsHTTPErr(status int, err error) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

func TestAWSRetryable(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"throttling", api("Throttling"), true},
		{"ec2 throttling", fmt.Errorf("op: %w", api("RequestLimitExceeded")), true},
		{"prior request", api("PriorRequestNotComplete"), true},
		{"503 coded", awsHTTPErr(503, api("ServiceUnavailable")), true},
		{"500 odd code", awsHTTPErr(500, api("Whatever")), true},
		{"429", awsHTTPErr(429, api("SlowDown")), true},
		{"403 denied", awsHTTPErr(403, api("AccessDenied")), false},
		{"400 invalid", awsHTTPErr(400, api("InvalidChangeBatch")), false},
		{"attempt timeout", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{"refused", syscall.ECONNREFUSED, true},
		{"eof", io.ErrUnexpectedEOF, true},
		{"not leader", fmt.Errorf("w: %w", cloud.ErrNotLeader), false},
		{"plain", errors.New("bad input"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := awsRetryable(context.Background(), tc.err); got != tc.want {
				t.Fatalf("awsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if awsRetryable(ctx, api("Throttling")) {
		t.Fatal("retryable after the caller's context ended")
	}
}

func TestAWSCall(t *testing.T) {
	log := awsTestLog(t)
	p := AWSRetry{Tries: 4, Interval: time.Millisecond, MaxInterval: 4 * time.Millisecond}
	valid := awsValidEvent("n", 1)
	throttle := &smithy.GenericAPIError{Code: "Throttling"}

	t.Run("succeeds after transient", func(t *testing.T) {
		n := 0
		err := awsCall(context.Background(), p, log, valid, true, "X", func(context.Context) error {
			n++
			if n < 3 {
				return throttle
			}
			return nil
		})
		if err != nil || n != 3 {
			t.Fatalf("err=%v n=%d", err, n)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		n := 0
		err := awsCall(context.Background(), p, log, valid, true, "X", func(context.Context) error { n++; return throttle })
		if n != 4 || err == nil || err.Error() != "X: api error Throttling: " {
			t.Fatalf("err=%v n=%d", err, n)
		}
	})
	t.Run("permanent not retried", func(t *testing.T) {
		n := 0
		err := awsCall(context.Background(), p, log, valid, true, "X", func(context.Context) error { n++; return errors.New("nope") })
		if n != 1 || err == nil || err.Error() != "X: nope" {
			t.Fatalf("err=%v n=%d", err, n)
		}
	})
	t.Run("write refused when not valid", func(t *testing.T) {
		n := 0
		ev := valid
		ev.Valid = func() bool { return false }
		err := awsCall(context.Background(), p, log, ev, true, "X", func(context.Context) error { n++; return nil })
		if n != 0 || !errors.Is(err, cloud.ErrNotLeader) {
			t.Fatalf("err=%v n=%d", err, n)
		}
	})
	t.Run("read allowed when not valid", func(t *testing.T) {
		ev := valid
		ev.Valid = func() bool { return false }
		if err := awsCall(context.Background(), p, log, ev, false, "X", func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		n := 0
		q := p
		q.AttemptTimeout = 20 * time.Millisecond
		err := awsCall(context.Background(), q, log, valid, false, "X", func(ctx context.Context) error {
			n++
			if n == 1 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		if err != nil || n != 2 {
			t.Fatalf("err=%v n=%d", err, n)
		}
	})
	t.Run("caller context ends during backoff", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		q := AWSRetry{Tries: 100, Interval: time.Second, MaxInterval: time.Second}
		start := time.Now()
		err := awsCall(ctx, q, log, valid, false, "X", func(context.Context) error { return throttle })
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 500*time.Millisecond {
			t.Fatalf("err=%v after %v", err, time.Since(start))
		}
	})
}
