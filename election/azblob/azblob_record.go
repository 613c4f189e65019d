package azblob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/lbhc/lbhc/election"
)

// BlobRecordStore is the --azure-lease-mode record Store: the lease record
// is the JSON content of a block blob and its version is the blob's ETag.
// Create uploads with If-None-Match: *, Update with If-Match: <ETag>, so
// every write is a compare-and-swap done by the storage service.
type BlobRecordStore struct {
	blob   *blockBlob
	target string // container/blob, for messages
}

// blobRecord is the blob's content.
type blobRecord struct {
	Holder string `json:"holder"`
	Term   uint64 `json:"term"`
	TTLms  int64  `json:"lease_duration_ms"`
}

// azMaxRecordSize bounds what Get reads (bytes); a record is ~80 bytes.
const azMaxRecordSize = 64 << 10

func (s *BlobRecordStore) name() string { return s.target }

// Get downloads the record; a missing blob is ErrNotFound.
func (s *BlobRecordStore) Get(ctx context.Context) (election.Record, string, error) {
	resp, err := s.blob.DownloadStream(ctx, nil)
	if be := wrapBlobErr("read record", s.name(), err); be != nil {
		if be.kind == blobNotFound && be.code != "ContainerNotFound" {
			return election.Record{}, "", fmt.Errorf("%w: %w", election.ErrNotFound, be)
		}
		return election.Record{}, "", be
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, azMaxRecordSize+1))
	if err != nil {
		return election.Record{}, "", wrapBlobErr("read record", s.name(), err)
	}
	if resp.ETag == nil {
		return election.Record{}, "", fmt.Errorf("azure blob read record %s: response without an ETag", s.name())
	}
	rec, err := decodeBlobRecord(b)
	if err != nil {
		return election.Record{}, "", fmt.Errorf("azure blob record %s: %w", s.name(), err)
	}
	return rec, string(*resp.ETag), nil
}

// decodeBlobRecord parses the blob's content.
func decodeBlobRecord(b []byte) (election.Record, error) {
	if len(b) > azMaxRecordSize {
		return election.Record{}, fmt.Errorf("%w: record larger than %d bytes: not an lbhc lease record", election.ErrCorrupt, azMaxRecordSize)
	}
	if len(b) == 0 {
		return election.Record{}, fmt.Errorf("%w: empty blob, not an lbhc lease record (a native-mode lease blob? every node of a group must use the same --azure-lease-mode)", election.ErrCorrupt)
	}
	var r blobRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return election.Record{}, fmt.Errorf("%w: not an lbhc lease record: %w", election.ErrCorrupt, err)
	}
	ttl, err := election.RecordTTL(r.TTLms)
	if err != nil {
		return election.Record{}, err
	}
	return election.Record{Holder: r.Holder, Term: r.Term, TTL: ttl}, nil
}

func encodeBlobRecord(rec election.Record) []byte {
	b, _ := json.Marshal(blobRecord{Holder: rec.Holder, Term: rec.Term, TTLms: rec.TTL.Milliseconds()})
	return append(b, '\n')
}

// Create writes rec only if the blob does not exist.
func (s *BlobRecordStore) Create(ctx context.Context, rec election.Record) (string, error) {
	return s.put(ctx, "create record", rec, &blob.ModifiedAccessConditions{IfNoneMatch: azPtr(azcore.ETagAny)})
}

// Update writes rec only if the blob's ETag is still prev.
func (s *BlobRecordStore) Update(ctx context.Context, rec election.Record, prev string) (string, error) {
	return s.put(ctx, "update record", rec, &blob.ModifiedAccessConditions{IfMatch: azPtr(azcore.ETag(prev))})
}

func (s *BlobRecordStore) put(ctx context.Context, op string, rec election.Record, cond *blob.ModifiedAccessConditions) (string, error) {
	resp, err := s.blob.Upload(ctx, azBody{bytes.NewReader(encodeBlobRecord(rec))}, &blockblob.UploadOptions{
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: azPtr("application/json")},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: cond},
	})
	if be := wrapBlobErr(op, s.name(), err); be != nil {
		// 412 (ETag moved), 409 (blob exists, or someone put a lease on
		// it) and 404 on update (deleted since we read it): the version we
		// wrote against is gone, another writer won.
		if be.kind == blobConflict || (be.kind == blobNotFound && cond.IfMatch != nil && be.code != "ContainerNotFound") {
			return "", fmt.Errorf("%w: %w", election.ErrConflict, be)
		}
		return "", be
	}
	if resp.ETag == nil {
		return "", fmt.Errorf("azure blob %s %s: response without an ETag", op, s.name())
	}
	return string(*resp.ETag), nil
}

// Close has nothing to free: the SDK client holds no connections of its own.
func (s *BlobRecordStore) Close() error { return nil }
