package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// FileStore keeps the lease record as a small JSON file. Writes happen under
// an exclusive lock on a sibling ".lock" file and replace the record by
// rename, so readers never see a torn record. Several processes on one host,
// or in several network namespaces sharing the filesystem, can contend.
type FileStore struct {
	path string
	lock string
}

// fileRecord is the on-disk form. Version counts writes.
type fileRecord struct {
	Holder  string `json:"holder"`
	Term    uint64 `json:"term"`
	TTLms   int64  `json:"lease_duration_ms"`
	Version uint64 `json:"version"`
}

// fileMaxRecord bounds a lease file (bytes); a record is about 80.
const fileMaxRecord = 64 << 10

// Sentinel causes for the error reasons of a file store.
var (
	errBadFile  = errors.New("unusable lease file")
	errLockHeld = errors.New("lock held")
)

// NewFileStore returns a store at path. The directory must exist and must
// not be writable by other users; the lock file (path + ".lock") is
// created (0600) if needed and must be a regular file of this user or
// root. Every failure is a ConfigError naming --lease-file.
func NewFileStore(path string) (*FileStore, error) {
	if path == "" {
		return nil, cfgErr("lease-file", "must not be empty")
	}
	dir := filepath.Dir(path)
	if err := checkLeaseDir(dir); err != nil {
		return nil, cfgErr("lease-file", "%v", err)
	}
	s := &FileStore{path: path, lock: path + ".lock"}
	f, err := openLockFile(s.lock)
	if err != nil {
		return nil, cfgErr("lease-file", "cannot open lock file: %v", err)
	}
	f.Close()
	return s, nil
}

func (s *FileStore) read() (fileRecord, error) {
	b, err := readSmallFile(s.path, fileMaxRecord)
	if errors.Is(err, fs.ErrNotExist) {
		return fileRecord{}, fmt.Errorf("%s: %w", s.path, ErrNotFound)
	}
	if err != nil {
		return fileRecord{}, fmt.Errorf("read lease file: %w", err)
	}
	r, err := decodeFileRecord(b)
	if err != nil {
		return fileRecord{}, fmt.Errorf("lease file %s: %w", s.path, err)
	}
	return r, nil
}

// decodeFileRecord parses a lease file. Every field must be present: a
// file holding null, {} or another program's JSON is not a free lease.
func decodeFileRecord(b []byte) (fileRecord, error) {
	var w struct {
		Holder  *string `json:"holder"`
		Term    *uint64 `json:"term"`
		TTLms   *int64  `json:"lease_duration_ms"`
		Version *uint64 `json:"version"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fileRecord{}, fmt.Errorf("%w: not JSON of an lbhc lease record: %w", ErrCorrupt, err)
	}
	if w.Holder == nil || w.Term == nil || w.TTLms == nil || w.Version == nil {
		return fileRecord{}, fmt.Errorf("%w: holder, term, lease_duration_ms or version missing", ErrCorrupt)
	}
	if _, err := recordTTL(*w.TTLms); err != nil {
		return fileRecord{}, err
	}
	if *w.Version == 0 {
		return fileRecord{}, fmt.Errorf("%w: version must be positive", ErrCorrupt)
	}
	return fileRecord{Holder: *w.Holder, Term: *w.Term, TTLms: *w.TTLms, Version: *w.Version}, nil
}

// Get reads the record without locking: rename makes each read see one
// complete write.
func (s *FileStore) Get(ctx context.Context) (Record, string, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, "", err
	}
	r, err := s.read()
	if err != nil {
		return Record{}, "", err
	}
	return Record{Holder: r.Holder, Term: r.Term, TTL: time.Duration(r.TTLms) * time.Millisecond},
		strconv.FormatUint(r.Version, 10), nil
}

func (s *FileStore) Create(ctx context.Context, rec Record) (string, error) {
	return s.swap(ctx, rec, "")
}

func (s *FileStore) Update(ctx context.Context, rec Record, prev string) (string, error) {
	return s.swap(ctx, rec, prev)
}

// swap writes rec if the file's version is prev ("" = the file must not
// exist), under the lock.
func (s *FileStore) swap(ctx context.Context, rec Record, prev string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, s.lock)
	if err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer unlock()
	cur, err := s.read()
	exists := err == nil
	switch {
	case prev != "" && (errors.Is(err, ErrCorrupt) || errors.Is(err, errBadFile)):
		// The version we wrote is gone: whoever replaced it, we lost it.
		return "", fmt.Errorf("update: %w: %w", ErrConflict, err)
	case err != nil && !errors.Is(err, ErrNotFound):
		return "", err
	}
	switch {
	case prev == "" && exists:
		return "", fmt.Errorf("create %s: %w", s.path, ErrConflict)
	case prev != "" && (!exists || strconv.FormatUint(cur.Version, 10) != prev):
		return "", fmt.Errorf("update %s: %w", s.path, ErrConflict)
	}
	next := fileRecord{Holder: rec.Holder, Term: rec.Term, TTLms: rec.TTL.Milliseconds(), Version: cur.Version + 1}
	b, err := json.Marshal(next)
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".lbhc-lease-*")
	if err != nil {
		return "", fmt.Errorf("write lease file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write lease file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("sync lease file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write lease file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return "", fmt.Errorf("replace lease file: %w", err)
	}
	return strconv.FormatUint(next.Version, 10), nil
}

// Delete removes the record under the lock, as an operator's rm would but
// without racing a write in flight (which would put the record back): for
// tests and repair tools. A missing record is not an error.
func (s *FileStore) Delete(ctx context.Context) error {
	unlock, err := lockFile(ctx, s.lock)
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer unlock()
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (s *FileStore) Close() error { return nil }
