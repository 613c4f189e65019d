package election

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// termFileMax bounds what LoadTermFile reads (bytes): a term is at most 20
// digits.
const termFileMax = 64

// TermFile keeps the highest lease term this node has seen, one decimal
// number, in the state dir. Terms are fencing numbers: a record deleted
// outside lbhc must not make the next grant reuse one, so the number
// survives the record and restarts of this node.
type TermFile struct {
	path string
	mu   sync.Mutex
	term uint64
}

// TermFilePath is where the term of lease leaseName is kept in stateDir.
func TermFilePath(stateDir, leaseName string) string {
	return filepath.Join(stateDir, leaseName+".term")
}

// LoadTermFile reads path (a missing file is term 0). A file that is not a
// regular file or does not hold a number is an error naming it: starting
// from 0 instead could reuse terms.
func LoadTermFile(path string) (*TermFile, error) {
	f := &TermFile{path: path}
	b, err := readSmallFile(path, termFileMax)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("term file: %w", err)
	}
	t, err := parseTerm(b)
	if err != nil {
		return nil, fmt.Errorf("term file %s does not hold a term number (fix or remove it): %w", path, err)
	}
	f.term = t
	return f, nil
}

// formatTerm is the term file's content for t.
func formatTerm(t uint64) string { return strconv.FormatUint(t, 10) + "\n" }

// parseTerm reads one decimal term, surrounding white space allowed.
func parseTerm(b []byte) (uint64, error) {
	return strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
}

// Load returns the highest term saved.
func (f *TermFile) Load() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.term
}

// Save records t if it is higher than the saved term: written to a
// temporary file, synced and renamed, so a crash leaves the old or the new
// number, never a torn one.
func (f *TermFile) Save(t uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t <= f.term {
		return nil
	}
	if err := writeFileAtomic(f.path, []byte(formatTerm(t))); err != nil {
		return fmt.Errorf("save term %d: %w", t, err)
	}
	f.term = t
	return nil
}

// writeFileAtomic replaces path with b (mode 0600) by rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".lbhc-tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// KeepTerms makes b keep its highest term in f when its terms live in a
// record that can be deleted: the CAS-record backends (file, DynamoDB,
// Azure record mode) and the Azure native lease (term in blob metadata).
// etcd's term is the key's create revision, which etcd never reuses.
func KeepTerms(b Backend, f *TermFile) {
	switch b := b.(type) {
	case *casBackend:
		WithTermFile(f)(b)
	case interface{ KeepTerms(*TermFile) }:
		// A store with its own term record (the Azure native lease).
		b.KeepTerms(f)
	}
}
