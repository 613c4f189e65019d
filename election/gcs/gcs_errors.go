package gcs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/lbhc/lbhc/election"
)

// StatusError is a Cloud Storage answer other than success. Conflicts wrap
// election.ErrConflict and a missing object election.ErrNotFound; every
// other status (429, 5xx, 401/403, a missing bucket) is an error the engine
// retries until its deadline, and Preflight reports at start-up.
type StatusError struct {
	Op, Target string
	Status     int
	Message    string // the service's error message, at most 200 bytes
	kind       error  // election.ErrConflict, election.ErrNotFound or nil
	hint       string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("gcs %s %s: HTTP %d", e.Op, e.Target, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.hint != "" {
		s += " (" + e.hint + ")"
	}
	return s
}

func (e *StatusError) Unwrap() error { return e.kind }

// statusErr classifies a failed response. replace is true for an upload
// conditional on an existing generation, where 404 means the object was
// deleted since it was read: the write lost, like a 412.
func (s *Store) statusErr(op string, resp *http.Response, replace bool) error {
	e := &StatusError{Op: op, Target: s.target, Status: resp.StatusCode, Message: errorMessage(resp.Body)}
	switch code := resp.StatusCode; {
	case code == http.StatusPreconditionFailed:
		e.kind = election.ErrConflict
	case code == http.StatusNotFound && bucketMissing(e.Message):
		e.hint = fmt.Sprintf("bucket %q not found: check --gcs-bucket", s.bucket)
	case code == http.StatusNotFound && replace:
		e.kind = election.ErrConflict
	case code == http.StatusNotFound && op == "read":
		e.kind = election.ErrNotFound
	case code == http.StatusNotFound:
		e.hint = fmt.Sprintf("bucket %q not found: check --gcs-bucket", s.bucket)
	case code == http.StatusUnauthorized:
		e.hint = fmt.Sprintf("credentials rejected for bucket %q: check GOOGLE_APPLICATION_CREDENTIALS or the VM's service account", s.bucket)
	case code == http.StatusForbidden:
		e.hint = fmt.Sprintf("permission denied on bucket %q: the service account needs storage.objects.get, storage.objects.create and storage.objects.delete on it (roles/storage.objectUser, or a custom role)", s.bucket)
	case code == http.StatusTooManyRequests:
		// Cloud Storage allows about one write per second to one object;
		// a --retry-period under 1 s can hit it.
		e.hint = "rate limited: at most about one write per second per object"
	}
	return e
}

// bucketMissing tells a missing bucket from a missing object in a 404's
// message. Cloud Storage says "The specified bucket does not exist."
func bucketMissing(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "bucket does not exist")
}

// errorMessage reads the message of a JSON API error body
// ({"error":{"code":..,"message":..}}), or the start of a plain body.
func errorMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4<<10))
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &body) == nil && body.Error.Message != "" {
		msg = body.Error.Message
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func isNotFound(err error) bool { return errors.Is(err, election.ErrNotFound) }
func isConflict(err error) bool { return errors.Is(err, election.ErrConflict) }
func isCorrupt(err error) bool  { return errors.Is(err, election.ErrCorrupt) }
