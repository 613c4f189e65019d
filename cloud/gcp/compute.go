package gcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lbhc/lbhc/cloud"
)

// DefaultComputeEndpoint is the Compute Engine REST API v1 base URL.
const DefaultComputeEndpoint = "https://compute.googleapis.com/compute/v1/"

// TokenFunc returns an OAuth2 access token for the Compute Engine API
// (scope https://www.googleapis.com/auth/compute). nil sends no
// Authorization header: only for an emulator or a test fake.
type TokenFunc func(ctx context.Context) (string, error)

// Compute calls the few Compute Engine REST operations the actions need
// with plain net/http and encoding/json: no generated client (binary size,
// see docs/GCP-NOTES.md). One Compute is shared by the actions of a node.
type Compute struct {
	Endpoint string       // "" = DefaultComputeEndpoint; a test fake's URL
	Project  string       // project id of the routes and instances
	HTTP     *http.Client // nil = http.DefaultClient
	Token    TokenFunc
}

// APIError is an error answer of the API: the HTTP status and the first
// entry of its error list (reason e.g. "notFound", "conditionNotMet",
// "rateLimitExceeded", "alreadyExists").
type APIError struct {
	Status  int
	Reason  string
	Message string
	Call    string // "GET routes/x"
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s: %s", e.Call, e.Status, e.Reason, e.Message)
}

// apiStatus returns the HTTP status of an APIError in err's chain, or 0.
func apiStatus(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// OpError is an operation that finished (status DONE) with errors: the
// change was accepted, then failed (e.g. IP_IN_USE_BY_ANOTHER_RESOURCE).
type OpError struct {
	Op     string
	Code   string // first error's code
	Detail string // all errors' messages
	HTTP   int    // httpErrorStatusCode of the operation, 0 if absent
}

func (e *OpError) Error() string {
	return fmt.Sprintf("operation %s failed: %s: %s", e.Op, e.Code, e.Detail)
}

// operation is the part of a Compute Engine Operation resource read here.
type operation struct {
	Name                string `json:"name"`
	Status              string `json:"status"` // PENDING, RUNNING, DONE
	Zone                string `json:"zone"`   // URL; empty for a global operation
	HTTPErrorStatusCode int    `json:"httpErrorStatusCode"`
	Error               *struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

// err is the operation's failure, or nil.
func (o *operation) err() error {
	if o.Error == nil || len(o.Error.Errors) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(o.Error.Errors))
	for _, e := range o.Error.Errors {
		msgs = append(msgs, e.Message)
	}
	return &OpError{Op: o.Name, Code: o.Error.Errors[0].Code, Detail: strings.Join(msgs, "; "), HTTP: o.HTTPErrorStatusCode}
}

// do sends one request (path relative to the project, e.g.
// "global/routes") and decodes a 2xx JSON answer into out (may be nil).
func (c *Compute) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	base := c.Endpoint
	if base == "" {
		base = DefaultComputeEndpoint
	}
	u := strings.TrimRight(base, "/") + "/projects/" + url.PathEscape(c.Project) + "/" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	call := method + " " + path
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: %w", call, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != nil {
		tok, err := c.Token(ctx)
		if err != nil {
			return fmt.Errorf("%s: access token: %w", call, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	defer resp.Body.Close()
	// Answers here are a few KiB; an aggregated instance list page of 500
	// instances stays well under 16 MiB.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Status: resp.StatusCode, Call: call}
		var e struct {
			Error struct {
				Message string `json:"message"`
				Errors  []struct {
					Reason string `json:"reason"`
				} `json:"errors"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil {
			ae.Message = e.Error.Message
			if len(e.Error.Errors) > 0 {
				ae.Reason = e.Error.Errors[0].Reason
			}
		}
		if ae.Message == "" {
			ae.Message = strings.TrimSpace(string(b[:min(len(b), 200)]))
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", call, err)
	}
	return nil
}

// wait polls operation op (global when op.Zone is empty, else zonal)
// every r.p.Poll until it is DONE, and returns its error. Each GET is retried
// under r's policy like any read; ctx bounds the whole wait.
func (c *Compute) wait(ctx context.Context, r *caller, op *operation) error {
	path := "global/operations/" + url.PathEscape(op.Name)
	if op.Zone != "" {
		path = "zones/" + url.PathEscape(lastSegment(op.Zone)) + "/operations/" + url.PathEscape(op.Name)
	}
	for op.Status != "DONE" {
		if err := cloud.Sleep(ctx, r.p.Poll); err != nil {
			return fmt.Errorf("operation %s still %s: %w", op.Name, op.Status, err)
		}
		next := &operation{}
		if err := r.call(ctx, false, "GET operation "+op.Name, func(ctx context.Context) error {
			return c.do(ctx, http.MethodGet, path, nil, nil, next)
		}); err != nil {
			return err
		}
		if next.Zone == "" {
			next.Zone = op.Zone
		}
		*op = *next
	}
	return op.err()
}

// lastSegment is the part of a resource URL after its last "/".
func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// resourcePath strips a resource URL down to "projects/..." so that links
// compare equal whatever host or API version wrote them.
func resourcePath(s string) string {
	if i := strings.Index(s, "projects/"); i >= 0 {
		return s[i:]
	}
	return s
}

// waitOp is wait bounded by the policy's OpTimeout.
func (c *Compute) waitOp(ctx context.Context, r *caller, op *operation) error {
	wctx, cancel := context.WithTimeout(ctx, r.p.OpTimeout)
	defer cancel()
	return c.wait(wctx, r, op)
}
