//go:build windows

package election

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// readSmallFile reads path if it is a regular file of at most limit bytes.
// Windows has no O_NOFOLLOW: a link or reparse point is refused by Lstat
// before the open, and the opened file is checked again.
func readSmallFile(path string, limit int64) ([]byte, error) {
	if fi, err := os.Lstat(path); err != nil {
		return nil, err
	} else if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a symbolic link; lbhc does not follow links for lease files: %w", path, errBadFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file: %w", path, errBadFile)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, larger than the %d-byte limit for a lease record: %w", path, fi.Size(), limit, errBadFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s grew beyond the %d-byte limit for a lease record: %w", path, limit, errBadFile)
	}
	return b, nil
}

// checkLeaseDir checks that dir is a directory. Access on Windows is by
// ACL, which the installer sets on the state dir.
func checkLeaseDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("directory %s does not exist (create it, or leave the lease file in the --state-dir)", dir)
		}
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// openLockFile opens (creating) the lock file, refusing a link.
func openLockFile(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("lock file %s is a symbolic link; refusing to follow it: %w", path, errBadFile)
	}
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}
