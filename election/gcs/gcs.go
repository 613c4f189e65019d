// Package gcs is the --election gcs lease store: the lease record is the
// JSON content of one Cloud Storage object, and its version is the
// object's generation. Create uploads with ifGenerationMatch=0, Update
// with ifGenerationMatch=<generation read>, so every write is a
// compare-and-swap done by Cloud Storage, and the CAS lease algorithm in
// election runs on top. It talks to the JSON API with net/http: the
// official storage client costs megabytes of binary for four calls.
package gcs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lbhc/lbhc/election"
)

// DefaultEndpoint is Cloud Storage's JSON API.
const DefaultEndpoint = "https://storage.googleapis.com"

// maxRecordSize bounds what Get reads (bytes); a record is ~60 bytes.
const maxRecordSize = 64 << 10

// Config is what NewStore needs.
type Config struct {
	Bucket   string
	Object   string // object name: --gcs-object-prefix + lease name
	Endpoint string // base URL; "" is DefaultEndpoint
	// Token returns the OAuth 2.0 access token of a request; nil sends
	// none (an emulator needs none).
	Token      func(context.Context) (string, error)
	HTTPClient *http.Client // nil: a client with a 30 s timeout
}

// Store is a election.Store over one Cloud Storage object.
type Store struct {
	hc        *http.Client
	token     func(context.Context) (string, error)
	objURL    string // .../storage/v1/b/BUCKET/o/OBJECT
	uploadURL string // .../upload/storage/v1/b/BUCKET/o?uploadType=media&name=OBJECT
	target    string // gs://bucket/object, for messages
	bucket    string
}

// New builds the store without I/O. Config must be valid
// (ValidateBucket, ValidateObject).
func New(cfg Config) *Store {
	base := strings.TrimRight(cfg.Endpoint, "/")
	if base == "" {
		base = DefaultEndpoint
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	b := url.PathEscape(cfg.Bucket)
	return &Store{
		hc:        hc,
		token:     cfg.Token,
		objURL:    base + "/storage/v1/b/" + b + "/o/" + url.PathEscape(cfg.Object),
		uploadURL: base + "/upload/storage/v1/b/" + b + "/o?uploadType=media&name=" + url.QueryEscape(cfg.Object),
		target:    "gs://" + cfg.Bucket + "/" + cfg.Object,
		bucket:    cfg.Bucket,
	}
}

// Preflight reads the record and tries a write that can never succeed
// (ifGenerationMatch=1: generations are microsecond timestamps), so that
// missing permissions, rejected credentials, a missing bucket or an
// endpoint that ignores preconditions fail at start-up, not at the first
// campaign. It changes nothing.
func (s *Store) Preflight(ctx context.Context) error {
	if _, _, err := s.Get(ctx); err != nil && !isNotFound(err) {
		if isCorrupt(err) {
			return nil // exists and is readable: the CAS algorithm reports it
		}
		return err
	}
	_, err := s.upload(ctx, "write probe", nil, 1)
	switch {
	case isConflict(err):
		return nil
	case err == nil:
		return fmt.Errorf("gcs %s: a write with ifGenerationMatch=1 succeeded: the endpoint does not honour generation preconditions (is --gcs-endpoint Cloud Storage?)", s.target)
	}
	return err
}

// Get downloads the record (alt=media); the generation comes from the
// response's X-Goog-Generation header, so content and version are one
// read of one generation.
func (s *Store) Get(ctx context.Context) (election.Record, string, error) {
	resp, err := s.do(ctx, "read", http.MethodGet, s.objURL+"?alt=media", nil)
	if err != nil {
		return election.Record{}, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return election.Record{}, "", s.statusErr("read", resp, false)
	}
	gen := resp.Header.Get("X-Goog-Generation")
	if _, err := strconv.ParseInt(gen, 10, 64); err != nil {
		return election.Record{}, "", fmt.Errorf("gcs read %s: response without a valid X-Goog-Generation (%q)", s.target, gen)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRecordSize+1))
	if err != nil {
		return election.Record{}, "", fmt.Errorf("gcs read %s: %w", s.target, err)
	}
	rec, err := DecodeRecord(b)
	if err != nil {
		return election.Record{}, "", fmt.Errorf("gcs record %s (generation %s): %w", s.target, gen, err)
	}
	return rec, gen, nil
}

// Create writes rec only if the object does not exist.
func (s *Store) Create(ctx context.Context, rec election.Record) (string, error) {
	return s.upload(ctx, "create", EncodeRecord(rec), 0)
}

// Update writes rec only if the object's generation is still prev.
func (s *Store) Update(ctx context.Context, rec election.Record, prev string) (string, error) {
	gen, err := strconv.ParseInt(prev, 10, 64)
	if err != nil || gen <= 0 {
		return "", fmt.Errorf("gcs update %s: version %q is not a generation: %w", s.target, prev, election.ErrConflict)
	}
	return s.upload(ctx, "update", EncodeRecord(rec), gen)
}

// Close frees idle connections.
func (s *Store) Close() error {
	s.hc.CloseIdleConnections()
	return nil
}

// upload is a simple media upload with ifGenerationMatch=gen (0: only if
// absent) and returns the new object's generation.
func (s *Store) upload(ctx context.Context, op string, body []byte, gen int64) (string, error) {
	u := s.uploadURL + "&ifGenerationMatch=" + strconv.FormatInt(gen, 10)
	resp, err := s.do(ctx, op, http.MethodPost, u, body)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// 404 on a conditional replace: deleted since we read it, so the
		// generation we wrote against is gone: another writer won.
		return "", s.statusErr(op, resp, gen > 0)
	}
	var obj struct {
		Generation string `json:"generation"` // int64 as a JSON string
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRecordSize))
	if err == nil {
		err = json.Unmarshal(b, &obj)
	}
	if err != nil {
		return "", fmt.Errorf("gcs %s %s: reading the object resource: %w", op, s.target, err)
	}
	if g, err := strconv.ParseInt(obj.Generation, 10, 64); err != nil || g <= 0 {
		return "", fmt.Errorf("gcs %s %s: object resource without a valid generation (%q)", op, s.target, obj.Generation)
	}
	return obj.Generation, nil
}

func (s *Store) do(ctx context.Context, op, method, u string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("gcs %s %s: %w", op, s.target, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != nil {
		tok, err := s.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("gcs %s %s: %w", op, s.target, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gcs %s %s: %w", op, s.target, err)
	}
	return resp, nil
}
