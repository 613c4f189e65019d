package azblob

import (
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"

	"github.com/lbhc/lbhc/election"
)

// Fuzz targets for this store's record decoders; seeds and crashers are in
// testdata/fuzz/<target> (see election's fuzz_test.go).

func FuzzDecodeBlobRecord(f *testing.F) {
	f.Add([]byte(`{"holder":"a","term":3,"lease_duration_ms":15000}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeBlobRecord(b)
		if err != nil {
			if !errors.Is(err, election.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if rec.TTL <= 0 || rec.TTL > election.MaxRecordTTL {
			t.Fatalf("accepted ttl %s", rec.TTL)
		}
		rec2, err := decodeBlobRecord(encodeBlobRecord(rec))
		if err != nil || rec2 != rec {
			t.Fatalf("round trip %+v -> %+v, %v", rec, rec2, err)
		}
	})
}

// FuzzParseLeaseProps: the native blob lease's metadata (holder, term).
func FuzzParseLeaseProps(f *testing.F) {
	f.Add("leased", "Holder", "n1", "Term", "9")
	f.Add("expired", "term", "x", "TERM", "-1")
	f.Fuzz(func(t *testing.T, state, k1, v1, k2, v2 string) {
		etag := azcore.ETag(`"0x1"`)
		st := lease.StateType(state)
		p, err := parseLeaseProps(&etag, &st, map[string]*string{k1: &v1, k2: &v2})
		if err != nil {
			return
		}
		if p.locked != (st == lease.StateTypeLeased || st == lease.StateTypeBreaking) {
			t.Fatalf("state %q: locked %v", state, p.locked)
		}
	})
}
