package azblob

import (
	"github.com/lbhc/lbhc/configerr"
	"github.com/lbhc/lbhc/election"
)

// The election contract this store implements, under the short names the
// store's code uses: the store lives apart from the contract so that
// election itself links no SDK.
type (
	State    = election.State
	Record   = election.Record
	Backend  = election.Backend
	Store    = election.Store
	TermFile = election.TermFile
)

var (
	ErrConflict  = election.ErrConflict
	ErrCorrupt   = election.ErrCorrupt
	ErrLeaseLost = election.ErrLeaseLost
	ErrNotFound  = election.ErrNotFound

	cfgErr        = configerr.New
	recordTTL     = election.RecordTTL
	NewCASBackend = election.NewCASBackend
)

const maxRecordTTL = election.MaxRecordTTL

// KeepTerms makes the native lease keep its highest term in f as well as in
// the blob's metadata, which a deleted blob loses (election.KeepTerms).
func (b *nativeBlob) KeepTerms(f *TermFile) {
	b.terms, b.maxTerm = f, max(b.maxTerm, f.Load())
}
