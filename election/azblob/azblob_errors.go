package azblob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/lbhc/lbhc/configerr"
)

// blobErrKind is what an Azure Storage error means for the lease logic.
type blobErrKind int

const (
	// blobTransient: network faults, timeouts, 5xx, 503 ServerBusy, 429,
	// and anything unexpected. Retried until the deadline.
	blobTransient blobErrKind = iota
	// blobConflict: 409 (lease present, lease ID mismatch, blob exists)
	// or 412 (If-Match / If-None-Match failed, lease ID missing): another
	// node won. Never retried as if it might still succeed.
	blobConflict
	// blobNotFound: 404, the blob (or its container) does not exist.
	blobNotFound
	// blobDenied: 401/403, credentials rejected or lacking permission.
	blobDenied
)

// azClassifyStatus maps an HTTP status of the blob service to its kind.
func azClassifyStatus(status int) blobErrKind {
	switch status {
	case http.StatusConflict, http.StatusPreconditionFailed:
		return blobConflict
	case http.StatusNotFound:
		return blobNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return blobDenied
	}
	return blobTransient
}

// blobError is an Azure Storage failure with a one-line message that
// never contains a URL query (SAS tokens live there) or a response body.
type blobError struct {
	op     string // e.g. "renew lease"
	target string // container/blob
	kind   blobErrKind
	status int    // 0 for transport errors
	code   string // x-ms-error-code, e.g. LeaseAlreadyPresent
	err    error
}

func (e *blobError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("azure blob %s %s: HTTP %d %s", e.op, e.target, e.status, e.code)
	}
	return fmt.Sprintf("azure blob %s %s: %s", e.op, e.target, azSanitizeErr(e.err))
}

func (e *blobError) Unwrap() error { return e.err }

// wrapBlobErr classifies err (nil stays nil).
func wrapBlobErr(op, target string, err error) *blobError {
	if err == nil {
		return nil
	}
	e := &blobError{op: op, target: target, err: err, kind: blobTransient}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.status, e.code, e.kind = re.StatusCode, re.ErrorCode, azClassifyStatus(re.StatusCode)
	}
	return e
}

func blobKind(err error) (blobErrKind, string) {
	var be *blobError
	if errors.As(err, &be) {
		return be.kind, be.code
	}
	return blobTransient, ""
}

// azSanitizeErr renders a transport error without the request's query
// string and on one line.
func azSanitizeErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		where := "request"
		if perr == nil {
			where = u.Scheme + "://" + u.Host + u.EscapedPath()
		}
		return fmt.Sprintf("%s %s: %s", ue.Op, where, azFirstLine(azSanitizeErr(ue.Err)))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out: " + azFirstLine(err.Error())
	}
	return azFirstLine(err.Error())
}

// azNeverETag is an ETag no blob ever has: a write conditional on it is
// refused (412) after authorisation, which proves write permission without
// changing anything.
const azNeverETag = azcore.ETag(`"lbhc-preflight-never-matches"`)

// azPreflight checks, before the node campaigns, that the endpoint
// answers, the credentials are accepted with write permission, and the
// container exists (creating it when allowed). It uses blob-level calls
// only, so a SAS scoped to the container suffices.
func azPreflight(ctx context.Context, cfg AzureConfig, kind azAuthKind, cc *container.Client, bb *blockblob.Client) error {
	target := cfg.target()
	resp, err := bb.GetProperties(ctx, nil)
	be := wrapBlobErr("read", target, err)
	if be == nil {
		if err := azModeMismatch(cfg.Mode, target, resp.ContentLength); err != nil {
			return configerr.New("azure-lease-mode", "%s", err.Error())
		}
	}
	if be != nil && be.kind == blobNotFound && be.code == "ContainerNotFound" {
		if !cfg.CreateContainer {
			return configerr.New("azure-container", "container %q does not exist in %s; create it or pass --azure-create-container",
				cfg.containerName(), azRedactURL(cc.URL()))
		}
		_, err := cc.Create(ctx, nil)
		ce := wrapBlobErr("create container", cfg.containerName(), err)
		switch {
		case ce == nil:
			if cfg.Logger != nil {
				cfg.Logger.Info("created Azure blob container", "container", cfg.containerName())
			}
		case ce.code == "ContainerAlreadyExists":
		default:
			return azPreflightErr(cfg, kind, ce)
		}
	} else if be != nil && be.kind != blobNotFound {
		return azPreflightErr(cfg, kind, be)
	}
	// Write permission: a conditional write that can never apply.
	_, err = bb.Upload(ctx, azBody{bytes.NewReader(nil)}, &blockblob.UploadOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: azPtr(azNeverETag)}},
	})
	we := wrapBlobErr("write check", target, err)
	switch {
	case we == nil:
		return fmt.Errorf("azure blob write check %s: a write conditional on a nonexistent ETag succeeded; the endpoint does not behave like Azure Blob Storage", target)
	case we.kind == blobNotFound && we.code == "ContainerNotFound":
		return configerr.New("azure-container", "container %q does not exist in %s; create it or pass --azure-create-container",
			cfg.containerName(), azRedactURL(cc.URL()))
	case we.kind == blobConflict || we.kind == blobNotFound:
		return nil
	}
	return azPreflightErr(cfg, kind, we)
}

// azModeMismatch detects a lease blob written by the other mode: a native
// lease blob is empty (the state is in the lease and the metadata), a
// record blob holds the JSON record. Nodes of one group in different modes
// would not exclude each other, so neither mode works on the other's blob.
func azModeMismatch(mode, target string, size *int64) error {
	if size == nil {
		return nil
	}
	if mode == AzureModeRecord && *size == 0 {
		return fmt.Errorf("blob %s is an empty native-mode lease blob; every node of a group must use the same --azure-lease-mode (or use another --lease-name)", target)
	}
	if mode != AzureModeRecord && *size > 0 {
		return fmt.Errorf("blob %s holds a record-mode lease record; every node of a group must use the same --azure-lease-mode (or use another --lease-name)", target)
	}
	return nil
}

// azPreflightErr turns a start-up failure into a ConfigError where it is
// configuration (credentials, permissions, unknown host) and into a plain
// error naming the endpoint otherwise (an outage may pass).
func azPreflightErr(cfg AzureConfig, kind azAuthKind, be *blobError) error {
	var te *azTokenError
	switch {
	case errors.As(be.err, &te) && azCtxErr(te.err) == nil:
		return configerr.New(cfg.credFlag(kind), "%s (assign a managed identity to this VM, or configure another credential DefaultAzureCredential supports)", te.Error())
	case be.kind == blobDenied:
		hint := "the storage account rejected the credentials or they lack permission"
		if kind == azAuthEntra {
			hint = "the Microsoft Entra identity lacks a data role such as Storage Blob Data Contributor on the container"
		}
		return configerr.New(cfg.credFlag(kind), "%s (%s)", hint, be.Error())
	case azDNSNotFound(be.err):
		return configerr.New(cfg.endpointFlag(kind), "host not found (%s)", be.Error())
	}
	return fmt.Errorf("azure blob storage for --%s not usable at start-up: %w", cfg.endpointFlag(kind), be)
}

// azCtxErr is the context error err wraps, if any.
func azCtxErr(err error) error {
	for _, c := range []error{context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// endpointFlag is the flag that decides where requests go.
func (c AzureConfig) endpointFlag(k azAuthKind) string {
	switch {
	case k == azAuthConnString:
		return "azure-connection-string"
	case c.Endpoint != "":
		return "azure-blob-endpoint"
	}
	return "azure-storage-account"
}

// azDNSNotFound reports a host name that does not resolve: a mistyped
// account or endpoint rather than an outage.
func azDNSNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

func azRedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the storage account"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}

func azPtr[T any](v T) *T { return &v }

// azBody makes a bytes.Reader an io.ReadSeekCloser for Upload.
type azBody struct{ *bytes.Reader }

func (azBody) Close() error { return nil }

var _ io.ReadSeekCloser = azBody{}
