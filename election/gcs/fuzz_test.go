package gcs

import (
	"errors"
	"testing"

	"github.com/lbhc/lbhc/election"
)

// FuzzDecodeRecord: any object content either decodes to a record lbhc
// could have written (and round-trips) or is ErrCorrupt; seeds and crashers
// are in testdata/fuzz/FuzzDecodeRecord (see election's fuzz_test.go).
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"holder":"node-1","term":3,"lease_duration_ms":15000}` + "\n"))
	f.Add([]byte(`{"holder":"","term":0,"lease_duration_ms":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"holder":"a","term":1,"lease_duration_ms":1000} {}`))
	f.Add([]byte(`{"term":18446744073709551615,"lease_duration_ms":86400000}`))
	f.Add([]byte(`{"holder":"a","term":-1,"lease_duration_ms":1e3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, election.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if rec.TTL <= 0 || rec.TTL > election.MaxRecordTTL {
			t.Fatalf("accepted %+v", rec)
		}
		rec2, err := DecodeRecord(EncodeRecord(rec))
		if err != nil || rec2 != rec {
			t.Fatalf("round trip %+v -> %+v, %v", rec, rec2, err)
		}
	})
}
