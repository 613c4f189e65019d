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

// NewFileStore returns a store at path, creating the directory (0700) if
// needed. It fails when the directory cannot be created or written, naming
// --lease-file.
func NewFileStore(path string) (*FileStore, error) {
	if path == "" {
		return nil, cfgErr("lease-file", "must not be empty")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, cfgErr("lease-file", "cannot create directory %s: %v", dir, err)
	}
	s := &FileStore{path: path, lock: path + ".lock"}
	f, err := os.OpenFile(s.lock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, cfgErr("lease-file", "cannot open lock file %s: %v", s.lock, err)
	}
	f.Close()
	return s, nil
}

func (s *FileStore) read() (fileRecord, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileRecord{}, fmt.Errorf("%s: %w", s.path, ErrNotFound)
	}
	if err != nil {
		return fileRecord{}, fmt.Errorf("read lease file: %w", err)
	}
	var r fileRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return fileRecord{}, fmt.Errorf("lease file %s is corrupt: %w", s.path, err)
	}
	return r, nil
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
		return "", fmt.Errorf("lock %s: %w", s.lock, err)
	}
	defer unlock()
	cur, err := s.read()
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
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

func (s *FileStore) Close() error { return nil }
