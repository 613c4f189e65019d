// Package gcpauth gets OAuth 2.0 access tokens for Google Cloud's JSON APIs,
// the way Application Default Credentials find them: a key file named by
// GOOGLE_APPLICATION_CREDENTIALS (a service-account key or gcloud's
// authorized_user file), then gcloud's own application-default file, then
// the metadata server of the VM. It is the small hand-written alternative to
// golang.org/x/oauth2/google, which costs far more binary than the three
// token exchanges lbhc needs (docs/GCP-NOTES.md has the measurement).
// election/gcs and cloud/gcp share it.
package gcpauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Scopes lbhc asks for: devstorage.read_write covers objects get, create
// and delete; cloud-platform is what the metadata server's default service
// account grants on a VM and what compute calls need.
const (
	ScopeStorage       = "https://www.googleapis.com/auth/devstorage.read_write"
	ScopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
)

// refreshEarly is how long before its expiry a token is replaced, so a
// request never carries a token that expires in flight. Google's tokens
// live an hour; the metadata server hands out the same token until about
// five minutes before its end.
const refreshEarly = 2 * time.Minute

// maxResponse bounds a token response (bytes); real ones are under 2 KiB.
const maxResponse = 64 << 10

// Source hands out a cached access token and fetches a new one when it
// nears its expiry. Safe for concurrent use; a nil *Source means "no
// credentials" (an emulator) and returns "".
type Source struct {
	kind  string // what the token comes from, for messages (never a secret)
	fetch func(ctx context.Context) (token, error)

	mu  sync.Mutex
	tok token
	now func() time.Time
}

type token struct {
	value  string
	expiry time.Time // zero: unknown, refetched on every call
}

// Token returns a valid access token, fetching one if the cached token is
// missing or expires within refreshEarly.
func (s *Source) Token(ctx context.Context) (string, error) {
	if s == nil {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.value != "" && s.now().Add(refreshEarly).Before(s.tok.expiry) {
		return s.tok.value, nil
	}
	t, err := s.fetch(ctx)
	if err != nil {
		return "", fmt.Errorf("gcp credentials (%s): %w", s.kind, err)
	}
	s.tok = t
	return t.value, nil
}

// Kind says where the tokens come from ("metadata server", "service
// account key FILE", ...), for logs; it never holds a secret.
func (s *Source) Kind() string {
	if s == nil {
		return "none"
	}
	return s.kind
}

// tokenResponse is the JSON of an OAuth 2.0 token response (RFC 6749 5.1),
// which the metadata server's token endpoint also uses.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"` // seconds
	TokenType   string `json:"token_type"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// doToken sends req and parses a token response; now is the time the
// request was sent, so the expiry errs early rather than late.
func doToken(hc *http.Client, req *http.Request, now time.Time) (token, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return token{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return token{}, fmt.Errorf("%s: reading the token response: %w", req.URL.Redacted(), err)
	}
	var tr tokenResponse
	jerr := json.Unmarshal(b, &tr)
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(b))
		if jerr == nil && tr.Error != "" {
			msg = strings.TrimSpace(tr.Error + " " + tr.Description)
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return token{}, fmt.Errorf("%s: %s: %s", req.URL.Redacted(), resp.Status, msg)
	}
	if jerr != nil {
		return token{}, fmt.Errorf("%s: token response is not JSON: %w", req.URL.Redacted(), jerr)
	}
	if tr.AccessToken == "" {
		return token{}, errors.New(req.URL.Redacted() + ": token response without an access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer") {
		return token{}, fmt.Errorf("%s: token type %q, want Bearer", req.URL.Redacted(), tr.TokenType)
	}
	t := token{value: tr.AccessToken}
	if tr.ExpiresIn > 0 {
		t.expiry = now.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return t, nil
}
