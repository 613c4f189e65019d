package gcs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/lbhc/lbhc/election"
)

// record is the object's content: the same JSON as the Azure blob record
// and the file lease.
type record struct {
	Holder string `json:"holder"`
	Term   uint64 `json:"term"`
	TTLms  int64  `json:"lease_duration_ms"`
}

// DecodeRecord parses an object's content. Anything that is not exactly one
// lbhc record (empty, null, unknown fields, trailing data, a lease duration
// out of range, over maxRecordSize) is election.ErrCorrupt: never free,
// never overwritten.
func DecodeRecord(b []byte) (election.Record, error) {
	if len(b) > maxRecordSize {
		return election.Record{}, fmt.Errorf("%w: object larger than %d bytes: not an lbhc lease record", election.ErrCorrupt, maxRecordSize)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return election.Record{}, fmt.Errorf("%w: empty object, not an lbhc lease record", election.ErrCorrupt)
	}
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return election.Record{}, fmt.Errorf("%w: not an lbhc lease record: %w", election.ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return election.Record{}, fmt.Errorf("%w: data after the record", election.ErrCorrupt)
	}
	ttl, err := election.RecordTTL(r.TTLms)
	if err != nil {
		return election.Record{}, err
	}
	return election.Record{Holder: r.Holder, Term: r.Term, TTL: ttl}, nil
}

// EncodeRecord is the object content for rec.
func EncodeRecord(rec election.Record) []byte {
	b, _ := json.Marshal(record{Holder: rec.Holder, Term: rec.Term, TTLms: rec.TTL.Milliseconds()})
	return append(b, '\n')
}
