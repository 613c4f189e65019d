package azblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/lbhc/lbhc/election"
)

// GetIfChanged downloads the record only if its ETag is no longer known:
// If-None-Match makes the service answer 304 Not Modified, without a body,
// while the holder has not written since. A follower's watch is then one
// small read per retry period that still sees every version change.
func (s *BlobRecordStore) GetIfChanged(ctx context.Context, known string) (election.Record, string, error) {
	// The SDK takes 304 as a success with an empty body: the status tells.
	var raw *http.Response
	resp, err := s.blob.DownloadStream(policy.WithCaptureResponse(ctx, &raw), &blob.DownloadStreamOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: azPtr(azcore.ETag(known))}},
	})
	var re *azcore.ResponseError
	if (errors.As(err, &re) && re.StatusCode == http.StatusNotModified) || (err == nil && raw != nil && raw.StatusCode == http.StatusNotModified) {
		if err == nil {
			resp.Body.Close()
		}
		return election.Record{}, "", election.ErrUnchanged
	}
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
	if string(*resp.ETag) == known {
		// A service that ignored the condition: same version, nothing new.
		return election.Record{}, "", election.ErrUnchanged
	}
	rec, err := decodeBlobRecord(b)
	if err != nil {
		return election.Record{}, "", fmt.Errorf("azure blob record %s: %w", s.name(), err)
	}
	return rec, string(*resp.ETag), nil
}
