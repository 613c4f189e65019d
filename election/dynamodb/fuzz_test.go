package dynamodb

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lbhc/lbhc/election"
)

// Fuzz targets for this store's record decoders; seeds and crashers are in
// testdata/fuzz/<target> (see election's fuzz_test.go).

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
			if !errors.Is(err, election.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if rec.TTL <= 0 || rec.TTL > election.MaxRecordTTL || v == "" {
			t.Fatalf("accepted %+v version %q", rec, v)
		}
		rec2, v2, err := decodeLeaseItem(encodeLeaseItem("k", rec, v))
		if err != nil || rec2 != rec || v2 != v {
			t.Fatalf("round trip %+v %q -> %+v %q, %v", rec, v, rec2, v2, err)
		}
	})
}
