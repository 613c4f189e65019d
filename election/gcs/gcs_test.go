package gcs_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/electiontest"
	"github.com/lbhc/lbhc/election/gcs"
	"github.com/lbhc/lbhc/itest"
)

const ttl = 1500 * time.Millisecond

func TestConformanceGCS(t *testing.T) {
	t.Parallel()
	ep := itest.Env(t, "LBHC_TEST_GCS_ENDPOINT")
	b := newBucket(t, ep)
	obj := func(lease string) string { return "lbhc/" + lease }
	electiontest.Run(t, electiontest.Suite{
		New: func(t *testing.T, lease, id string) electiontest.Candidate {
			st, set := electiontest.Cuttable(newStore(t, ep, b, obj(lease)))
			return electiontest.Candidate{Backend: election.NewCASBackend(st, id, ttl, nil), SetReachable: set}
		},
		Steal:  func(t *testing.T, lease string) { electiontest.StealStore(t, newStore(t, ep, b, obj(lease))) },
		Delete: func(t *testing.T, lease string) { rawDelete(t, ep, b, obj(lease)) },
		Store:  func(t *testing.T, lease string) election.Store { return newStore(t, ep, b, obj(lease)) },
	})
}

// TestGCSStoreVersions: the same content written again is a new generation,
// and a generation that is not a number is a conflict, never a write.
func TestGCSStoreVersions(t *testing.T) {
	t.Parallel()
	ep := itest.Env(t, "LBHC_TEST_GCS_ENDPOINT")
	s := newStore(t, ep, newBucket(t, ep), "lbhc/v")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := election.Record{Holder: "n1", Term: 1, TTL: ttl}
	v1, err := s.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.Update(ctx, rec, v1)
	if err != nil || v2 == v1 {
		t.Fatalf("rewrite of the same record: %q %v (previous %q)", v2, err, v1)
	}
	for _, bad := range []string{"", "0", "-1", "etag-like"} {
		if _, err := s.Update(ctx, rec, bad); !errors.Is(err, election.ErrConflict) {
			t.Errorf("update on version %q: %v, want ErrConflict", bad, err)
		}
	}
	if got, v, err := s.Get(ctx); err != nil || got != rec || v != v2 {
		t.Fatalf("get = %+v %q %v, want %+v %q", got, v, err, rec, v2)
	}
}

// TestGCSForeignObject: an object that is not an lbhc record is corrupt,
// never free, and the preflight still passes (the CAS algorithm reports it).
func TestGCSForeignObject(t *testing.T) {
	t.Parallel()
	ep := itest.Env(t, "LBHC_TEST_GCS_ENDPOINT")
	b := newBucket(t, ep)
	for name, content := range map[string]string{"empty": "", "text": "hello", "null": "null",
		"extra": `{"holder":"a","term":1,"lease_duration_ms":1000,"x":1}`, "two": `{"holder":"a","term":1,"lease_duration_ms":1000}{}`} {
		if code, _ := rawUpload(t, ep, b, name, 0, content); code != http.StatusOK {
			t.Fatalf("upload %s: HTTP %d", name, code)
		}
		s := newStore(t, ep, b, name)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := s.Get(ctx)
		cancel()
		if !errors.Is(err, election.ErrCorrupt) {
			t.Errorf("%s: get = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestGCSMissingBucket: the preflight fails naming the bucket.
func TestGCSMissingBucket(t *testing.T) {
	t.Parallel()
	ep := itest.Env(t, "LBHC_TEST_GCS_ENDPOINT")
	s := gcs.New(gcs.Config{Bucket: "lbhc-no-such-bucket", Object: "lbhc/g", Endpoint: ep})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.Preflight(ctx)
	if err == nil || !strings.Contains(err.Error(), `bucket "lbhc-no-such-bucket" not found`) {
		t.Fatalf("preflight on a missing bucket: %v", err)
	}
}
