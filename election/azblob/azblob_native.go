package azblob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"

	"github.com/lbhc/lbhc/election"
)

// Blob metadata keys naming the holder and its term. The service returns
// metadata names in whatever case the HTTP layer gives them, so they are
// read case-insensitively.
const (
	metaHolder = "holder"
	metaTerm   = "term"
)

// nativeBlob is the --azure-lease-mode native Backend: an Azure blob lease
// on one blob. Expiry is server-side: a crashed holder's lease ends lease-ttl
// after its last renewal reached the service (or up to a minute later,
// Azure warns, for an expired rather than released lease). The holder's
// node id and term are blob metadata written under the lease, so only the
// lease holder can change them and terms strictly increase.
type nativeBlob struct {
	blob   *blockBlob
	target string // container/blob, for messages
	id     string
	dur    int32 // lease duration, seconds (15-60)

	// Only the Engine calls us, one call at a time: no locking.
	leaseID string // our current grant's lease ID, "" when not leading
	term    uint64 // our current grant's term
	// tryID is the proposed lease ID of an acquire (or of a grant we
	// stopped using) whose outcome on the service is unknown: a timeout,
	// a metadata write that failed, a release that failed. Acquiring with
	// the same ID again succeeds if the service did give it to us, so such
	// a lease is reused at once instead of blocking everyone for a TTL.
	tryID string
	// terms keeps the highest term seen across restarts and a deleted
	// blob (whose metadata starts again at 0); nil: in memory only.
	terms   *election.TermFile
	maxTerm uint64
}

func newNativeBlob(bb *blockblob.Client, target, nodeID string, ttl time.Duration) *nativeBlob {
	return &nativeBlob{blob: newBlockBlob(bb), target: target, id: nodeID, dur: int32(ttl / time.Second)}
}

func (b *nativeBlob) leaseClient(id string) (*lease.BlobClient, error) {
	return b.blob.newLease(&lease.BlobClientOptions{LeaseID: &id})
}

func (b *nativeBlob) TryAcquire(ctx context.Context, renew bool) (election.State, error) {
	if renew {
		return b.renew(ctx)
	}
	if b.leaseID != "" {
		// A new grant was asked for while we still know our old lease ID
		// (we fenced ourselves on a slow renewal): try that lease first.
		b.tryID, b.leaseID = b.leaseID, ""
	}
	p, err := b.props(ctx)
	if err != nil {
		return election.State{}, err
	}
	if p.term > b.maxTerm {
		b.maxTerm = p.term
		if b.terms != nil {
			_ = b.terms.Save(p.term) // best effort: the grant below must save
		}
	}
	if p.locked && b.tryID == "" {
		return election.State{Term: p.term, Leader: p.holder}, nil
	}
	id := b.tryID
	if id == "" {
		if id, err = azLeaseID(); err != nil {
			return election.State{}, err
		}
		b.tryID = id
	}
	lc, err := b.leaseClient(id)
	if err != nil {
		return election.State{}, fmt.Errorf("azure blob lease client: %w", err)
	}
	// If-Match on the ETag we read: nobody wrote a newer term between our
	// read and our grant, so term+1 is above every term ever written.
	resp, err := lc.AcquireLease(ctx, b.dur, &lease.BlobAcquireOptions{
		ModifiedAccessConditions: &lease.ModifiedAccessConditions{IfMatch: p.etag},
	})
	if be := wrapBlobErr("acquire lease", b.target, err); be != nil {
		if be.kind == blobConflict || be.kind == blobNotFound {
			b.tryID = "" // definitely not ours
			return election.State{Term: p.term, Leader: p.leader()}, nil
		}
		return election.State{}, be
	}
	if resp.LeaseID == nil || *resp.LeaseID != id {
		b.tryID = ""
		return election.State{Term: p.term, Leader: p.leader()}, nil
	}
	term := max(p.term, b.maxTerm) + 1
	if b.terms != nil {
		if err := b.terms.Save(term); err != nil {
			return election.State{}, err // keep tryID: the lease is ours until it expires
		}
	}
	b.maxTerm = term
	_, err = b.blob.SetMetadata(ctx, map[string]*string{metaHolder: &b.id, metaTerm: azPtr(strconv.FormatUint(term, 10))},
		&blob.SetMetadataOptions{AccessConditions: &blob.AccessConditions{LeaseAccessConditions: &blob.LeaseAccessConditions{LeaseID: &id}}})
	if be := wrapBlobErr("write holder metadata", b.target, err); be != nil {
		if be.kind == blobConflict || be.kind == blobNotFound {
			b.tryID = ""
			return election.State{Term: p.term}, nil
		}
		return election.State{}, be // keep tryID: the lease is probably ours
	}
	b.leaseID, b.term, b.tryID = id, term, ""
	return election.State{Held: true, Term: term, Leader: b.id}, nil
}

// renew extends our grant. Every answer must carry our lease ID: an
// emulator (Azurite) has been seen to revive an expired lease for a
// different ID.
func (b *nativeBlob) renew(ctx context.Context) (election.State, error) {
	if b.leaseID == "" {
		return election.State{}, fmt.Errorf("renew without a grant: %w", election.ErrLeaseLost)
	}
	lc, err := b.leaseClient(b.leaseID)
	if err != nil {
		return election.State{}, fmt.Errorf("azure blob lease client: %w", err)
	}
	resp, err := lc.RenewLease(ctx, nil)
	if be := wrapBlobErr("renew lease", b.target, err); be != nil {
		if be.kind == blobConflict || be.kind == blobNotFound {
			b.leaseID = ""
			return election.State{}, fmt.Errorf("term %d: %w: %w", b.term, election.ErrLeaseLost, be)
		}
		return election.State{Held: true, Term: b.term, Leader: b.id}, be
	}
	if resp.LeaseID == nil || *resp.LeaseID != b.leaseID {
		got := "none"
		if resp.LeaseID != nil {
			got = *resp.LeaseID
		}
		b.leaseID = ""
		return election.State{}, fmt.Errorf("term %d: renew answered for lease ID %s, not ours: %w", b.term, got, election.ErrLeaseLost)
	}
	return election.State{Held: true, Term: b.term, Leader: b.id}, nil
}

// Release gives the lease back so a follower can take it at its next
// attempt instead of waiting out the TTL.
func (b *nativeBlob) Release(ctx context.Context) error {
	id := b.leaseID
	if id == "" {
		id = b.tryID
	}
	if id == "" {
		return nil
	}
	lc, err := b.leaseClient(id)
	if err != nil {
		return fmt.Errorf("azure blob lease client: %w", err)
	}
	_, err = lc.ReleaseLease(ctx, nil)
	b.leaseID = ""
	if be := wrapBlobErr("release lease", b.target, err); be != nil {
		if be.kind == blobConflict || be.kind == blobNotFound {
			b.tryID = ""
			return nil // not ours (any more): nothing to release
		}
		b.tryID = id // still ours until it expires; a retry may reuse it
		return be
	}
	b.tryID = ""
	return nil
}

func (b *nativeBlob) Close() error { return nil }

// blobProps is what a follower needs from Get Blob Properties.
type blobProps struct {
	etag   *azcore.ETag
	locked bool // a lease is active (leased or breaking)
	holder string
	term   uint64
}

func (p blobProps) leader() string {
	if p.locked {
		return p.holder
	}
	return ""
}

// props reads the blob's lease state and metadata, creating the blob
// first when it does not exist.
func (b *nativeBlob) props(ctx context.Context) (blobProps, error) {
	for attempt := 0; ; attempt++ {
		resp, err := b.blob.GetProperties(ctx, nil)
		be := wrapBlobErr("read lease", b.target, err)
		if be == nil {
			if err := azModeMismatch(AzureModeNative, b.target, resp.ContentLength); err != nil {
				return blobProps{}, fmt.Errorf("azure blob: %w", err)
			}
			p, err := parseLeaseProps(resp.ETag, resp.LeaseState, resp.Metadata)
			if err != nil {
				return blobProps{}, fmt.Errorf("azure blob %s: %w", b.target, err)
			}
			return p, nil
		}
		if be.kind != blobNotFound || be.code == "ContainerNotFound" || attempt > 0 {
			return blobProps{}, be
		}
		// If-None-Match: * lets racing creators all go on: the losers get
		// 409/412 and read the winner's blob.
		_, err = b.blob.Upload(ctx, azBody{bytes.NewReader(nil)}, &blockblob.UploadOptions{
			AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: azPtr(azcore.ETagAny)}},
		})
		if ce := wrapBlobErr("create lease blob", b.target, err); ce != nil && ce.kind != blobConflict {
			return blobProps{}, ce
		}
	}
}

// parseLeaseProps interprets Get Blob Properties. A lease that is
// "breaking" still excludes everyone else; "expired", "broken" and
// "available" are free to acquire.
func parseLeaseProps(etag *azcore.ETag, state *lease.StateType, meta map[string]*string) (blobProps, error) {
	p := blobProps{etag: etag}
	if state != nil {
		p.locked = *state == lease.StateTypeLeased || *state == lease.StateTypeBreaking
	}
	for k, v := range meta {
		if v == nil {
			continue
		}
		switch strings.ToLower(k) {
		case metaHolder:
			p.holder = *v
		case metaTerm:
			t, err := strconv.ParseUint(*v, 10, 64)
			if err != nil {
				return blobProps{}, fmt.Errorf("metadata %s=%q is not a term number", metaTerm, *v)
			}
			p.term = t
		}
	}
	if etag == nil {
		return blobProps{}, errors.New("blob properties without an ETag")
	}
	return p, nil
}

// azLeaseID returns a random (version 4) UUID, the lease ID format the
// blob service requires.
func azLeaseID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("lease id: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// Peek reports the holder without acquiring: the blob is free when no
// lease is active on it.
func (b *nativeBlob) Peek(ctx context.Context) (election.State, bool, error) {
	p, err := b.props(ctx)
	if err != nil {
		return election.State{}, false, err
	}
	return election.State{Term: p.term, Leader: p.leader()}, !p.locked, nil
}

// KeepTerms makes the native lease keep its highest term in f as well as in
// the blob's metadata, which a deleted blob loses (election.KeepTerms).
func (b *nativeBlob) KeepTerms(f *election.TermFile) {
	b.terms, b.maxTerm = f, max(b.maxTerm, f.Load())
}
