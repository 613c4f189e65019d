package azblob

import (
	"context"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
)

// blockBlob is the part of a *blockblob.Client the backends call, held as
// method values. The backends are interface values (election.Backend,
// Store), and the command line's text/template makes the linker keep every
// exported method of every type their type descriptors reach: a
// *blockblob.Client field kept all of its and the generated block-blob
// client's operations (staged and chunked uploads, copies, tags, SAS;
// ~250 kB of the binary). Func fields name only the option and response
// types (see cloud/aws/awsclient.go).
type blockBlob struct {
	getProperties  func(context.Context, *blob.GetPropertiesOptions) (blob.GetPropertiesResponse, error)
	upload         func(context.Context, io.ReadSeekCloser, *blockblob.UploadOptions) (blockblob.UploadResponse, error)
	setMetadata    func(context.Context, map[string]*string, *blob.SetMetadataOptions) (blob.SetMetadataResponse, error)
	downloadStream func(context.Context, *blob.DownloadStreamOptions) (blob.DownloadStreamResponse, error)
	// newLease returns a lease client on the same blob. It goes through
	// the *blob.Client: lease.NewBlobClient converts its argument to `any`.
	newLease func(*lease.BlobClientOptions) (*lease.BlobClient, error)
}

func newBlockBlob(bb *blockblob.Client) *blockBlob {
	bc := bb.BlobClient()
	return &blockBlob{
		getProperties:  bb.GetProperties,
		upload:         bb.Upload,
		setMetadata:    bb.SetMetadata,
		downloadStream: bb.DownloadStream,
		newLease: func(o *lease.BlobClientOptions) (*lease.BlobClient, error) {
			return lease.NewBlobClient(bc, o)
		},
	}
}

func (b *blockBlob) GetProperties(ctx context.Context, o *blob.GetPropertiesOptions) (blob.GetPropertiesResponse, error) {
	return b.getProperties(ctx, o)
}

func (b *blockBlob) Upload(ctx context.Context, body io.ReadSeekCloser, o *blockblob.UploadOptions) (blockblob.UploadResponse, error) {
	return b.upload(ctx, body, o)
}

func (b *blockBlob) SetMetadata(ctx context.Context, meta map[string]*string, o *blob.SetMetadataOptions) (blob.SetMetadataResponse, error) {
	return b.setMetadata(ctx, meta, o)
}

func (b *blockBlob) DownloadStream(ctx context.Context, o *blob.DownloadStreamOptions) (blob.DownloadStreamResponse, error) {
	return b.downloadStream(ctx, o)
}
