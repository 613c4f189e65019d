package gcs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
)

// Error classification and request shape against an httptest server that
// answers what Cloud Storage answers (status, JSON error body); the
// emulator tests (gcs_test.go) cover the protocol itself.

func testStore(t *testing.T, h http.HandlerFunc) *Store {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return New(Config{Bucket: "bkt", Object: "lbhc/g", Endpoint: srv.URL})
}

func jsonErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"error":{"code":` + strconv.Itoa(code) + `,"message":"` + msg + `"}}`))
}

func TestStatusClassification(t *testing.T) {
	rec := election.Record{Holder: "n", Term: 1, TTL: time.Second}
	for _, tc := range []struct {
		name    string
		code    int
		msg     string
		call    string // get, create, update
		kind    error  // wrapped sentinel, nil: neither conflict nor not-found
		contain string
	}{
		{"stale generation", 412, "Precondition failed", "update", election.ErrConflict, "HTTP 412"},
		{"exists", 412, "Precondition failed", "create", election.ErrConflict, "HTTP 412"},
		{"no object", 404, "No such object: bkt/lbhc/g", "get", election.ErrNotFound, "HTTP 404"},
		{"deleted under update", 404, "No such object: bkt/lbhc/g", "update", election.ErrConflict, "HTTP 404"},
		{"no bucket on create", 404, "Not Found", "create", nil, `bucket "bkt" not found: check --gcs-bucket`},
		{"no bucket on get", 404, "The specified bucket does not exist.", "get", nil, `bucket "bkt" not found`},
		{"no bucket on update", 404, "The specified bucket does not exist.", "update", nil, `bucket "bkt" not found`},
		{"throttled", 429, "rate limit", "update", nil, "at most about one write per second per object"},
		{"unavailable", 503, "backend error", "get", nil, "HTTP 503: backend error"},
		{"internal", 500, "", "create", nil, "HTTP 500"},
		{"unauthenticated", 401, "Invalid Credentials", "get", nil, `credentials rejected for bucket "bkt"`},
		{"forbidden", 403, "no storage.objects.create access", "create", nil,
			`permission denied on bucket "bkt": the service account needs storage.objects.get, storage.objects.create and storage.objects.delete`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testStore(t, func(w http.ResponseWriter, r *http.Request) { jsonErr(w, tc.code, tc.msg) })
			ctx := context.Background()
			var err error
			switch tc.call {
			case "get":
				_, _, err = s.Get(ctx)
			case "create":
				_, err = s.Create(ctx, rec)
			case "update":
				_, err = s.Update(ctx, rec, "1700000000000000")
			}
			if err == nil || !strings.Contains(err.Error(), tc.contain) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.contain)
			}
			for _, k := range []error{election.ErrConflict, election.ErrNotFound, election.ErrCorrupt} {
				if errors.Is(err, k) != (k == tc.kind) {
					t.Errorf("errors.Is(%v, %v) = %v", err, k, errors.Is(err, k))
				}
			}
		})
	}
}

// TestRequests: the URLs, preconditions, token and content of each call,
// and the generation read from the answers.
func TestRequests(t *testing.T) {
	var seen []string
	var tokens atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
			t.Errorf("%s %s: Authorization %q", r.Method, r.URL, got)
		}
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("X-Goog-Generation", "1700000000000001")
			_, _ = w.Write([]byte(`{"holder":"a","term":7,"lease_duration_ms":15000}` + "\n"))
		case http.MethodPost:
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("upload content type %q", ct)
			}
			_, _ = w.Write([]byte(`{"kind":"storage#object","generation":"1700000000000002","metageneration":"1"}`))
		}
	}))
	defer srv.Close()
	s := New(Config{Bucket: "bkt", Object: "lbhc/a b", Endpoint: srv.URL + "/",
		Token: func(context.Context) (string, error) { tokens.Add(1); return "tok-1", nil }})
	ctx := context.Background()
	rec, v, err := s.Get(ctx)
	if err != nil || rec != (election.Record{Holder: "a", Term: 7, TTL: 15 * time.Second}) || v != "1700000000000001" {
		t.Fatalf("get = %+v %q %v", rec, v, err)
	}
	if v, err := s.Create(ctx, rec); err != nil || v != "1700000000000002" {
		t.Fatalf("create = %q %v", v, err)
	}
	if v, err := s.Update(ctx, rec, "1700000000000001"); err != nil || v != "1700000000000002" {
		t.Fatalf("update = %q %v", v, err)
	}
	want := []string{
		"GET /storage/v1/b/bkt/o/lbhc%2Fa%20b?alt=media",
		"POST /upload/storage/v1/b/bkt/o?uploadType=media&name=lbhc%2Fa+b&ifGenerationMatch=0",
		"POST /upload/storage/v1/b/bkt/o?uploadType=media&name=lbhc%2Fa+b&ifGenerationMatch=1700000000000001",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	if tokens.Load() != 3 {
		t.Errorf("token asked %d times, want once per request", tokens.Load())
	}
}

// TestBadAnswers: answers that cannot be a lease read or write are errors,
// never a version the CAS algorithm would trust.
func TestBadAnswers(t *testing.T) {
	ctx := context.Background()
	rec := election.Record{Holder: "n", Term: 1, TTL: time.Second}
	t.Run("get without generation", func(t *testing.T) {
		s := testStore(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"holder":"a","term":1,"lease_duration_ms":1000}`))
		})
		if _, _, err := s.Get(ctx); err == nil || !strings.Contains(err.Error(), "X-Goog-Generation") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("oversized record", func(t *testing.T) {
		s := testStore(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Goog-Generation", "5")
			_, _ = w.Write([]byte(`{"holder":"` + strings.Repeat("x", maxRecordSize) + `","term":1,"lease_duration_ms":1000}`))
		})
		if _, _, err := s.Get(ctx); !errors.Is(err, election.ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
	t.Run("upload without generation", func(t *testing.T) {
		s := testStore(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"kind":"storage#object"}`)) })
		if _, err := s.Create(ctx, rec); err == nil || errors.Is(err, election.ErrConflict) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("token failure", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("request sent without a token") }))
		defer srv.Close()
		s := New(Config{Bucket: "bkt", Object: "o", Endpoint: srv.URL,
			Token: func(context.Context) (string, error) { return "", errors.New("metadata server down") }})
		if _, _, err := s.Get(ctx); err == nil || !strings.Contains(err.Error(), "metadata server down") || errors.Is(err, election.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		s := New(Config{Bucket: "bkt", Object: "o", Endpoint: u})
		_, err := s.Update(ctx, rec, "5")
		if err == nil || errors.Is(err, election.ErrConflict) || !strings.Contains(err.Error(), "gs://bkt/o") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestPreflightRefusesIgnoredPreconditions: an endpoint that accepts a write
// on a generation that cannot exist is not used as a lease.
func TestPreflightRefusesIgnoredPreconditions(t *testing.T) {
	s := testStore(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"generation":"9"}`))
	})
	err := s.Preflight(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not honour generation preconditions") {
		t.Fatalf("err = %v", err)
	}
}
