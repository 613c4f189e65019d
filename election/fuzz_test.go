package election

import (
	"encoding/json"
	"errors"
	"testing"
)

// Fuzz targets for the file store's record and term decoders (the
// SDK-backed stores' decoders are fuzzed in their own packages). Seeds are in
// testdata/fuzz/<target>; scripts/test.sh runs each for a bounded time, and
// a crasher found there is kept in that directory as a regression input
// (plain `go test` replays them all). Each target checks the decoder never
// panics, refuses with ErrCorrupt, and that what it accepts is a record lbhc
// could have written: re-encoding and decoding gives the same record.

func FuzzDecodeFileRecord(f *testing.F) {
	f.Add([]byte(`{"holder":"a","term":3,"lease_duration_ms":15000,"version":7}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeFileRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if r.TTLms <= 0 || r.Version == 0 {
			t.Fatalf("accepted %+v", r)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeFileRecord(again)
		if err != nil || r2 != r {
			t.Fatalf("round trip %+v -> %s -> %+v, %v", r, again, r2, err)
		}
	})
}

// FuzzParseTerm: the term file in the state dir.
func FuzzParseTerm(f *testing.F) {
	f.Add([]byte("42\n"))
	f.Add([]byte(" 18446744073709551615 "))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseTerm(b)
		if err != nil {
			return
		}
		if m, err := parseTerm([]byte(formatTerm(n))); err != nil || m != n {
			t.Fatalf("round trip %d -> %d, %v", n, m, err)
		}
	})
}
