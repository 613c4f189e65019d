package election

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Fuzz targets for every lease record decoder. Seeds are in
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

func FuzzDecodeBlobRecord(f *testing.F) {
	f.Add([]byte(`{"holder":"a","term":3,"lease_duration_ms":15000}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeBlobRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if rec.TTL <= 0 || rec.TTL > maxRecordTTL {
			t.Fatalf("accepted ttl %s", rec.TTL)
		}
		rec2, err := decodeBlobRecord(encodeBlobRecord(rec))
		if err != nil || rec2 != rec {
			t.Fatalf("round trip %+v -> %+v, %v", rec, rec2, err)
		}
	})
}

// FuzzDecodeLeaseItem builds a DynamoDB item from the inputs: each
// attribute present or not, as a string or a number, per bit of shape.
func FuzzDecodeLeaseItem(f *testing.F) {
	f.Add("node-1", "3", "15000", "5b0c3f1e-0000-4000-8000-000000000000", uint8(0b1111))
	f.Add("", "0", "-1", "", uint8(0b10101010))
	f.Fuzz(func(t *testing.T, holder, term, ttl, ver string, shape uint8) {
		item := map[string]types.AttributeValue{}
		put := func(bit uint8, name, v string) {
			switch {
			case shape&(1<<bit) == 0:
			case shape&(1<<(bit+4)) != 0:
				item[name] = &types.AttributeValueMemberS{Value: v}
			default:
				item[name] = &types.AttributeValueMemberN{Value: v}
			}
		}
		put(0, dynHolderAttr, holder)
		put(1, dynTermAttr, term)
		put(2, dynTTLAttr, ttl)
		put(3, dynVersionAttr, ver)
		rec, v, err := decodeLeaseItem(item)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if rec.TTL <= 0 || rec.TTL > maxRecordTTL || v == "" {
			t.Fatalf("accepted %+v version %q", rec, v)
		}
		rec2, v2, err := decodeLeaseItem(encodeLeaseItem("k", rec, v))
		if err != nil || rec2 != rec || v2 != v {
			t.Fatalf("round trip %+v %q -> %+v %q, %v", rec, v, rec2, v2, err)
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
