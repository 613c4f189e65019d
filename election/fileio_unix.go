//go:build unix

package election

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// readSmallFile reads path if it is a regular file of at most limit bytes.
// It never follows a symbolic link (O_NOFOLLOW) and never blocks on a FIFO
// or device (O_NONBLOCK, then the type is checked before any read), and a
// huge or sparse file is refused from its size alone, so a hostile or
// mistaken path costs one open and one fstat.
func readSmallFile(path string, limit int64) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.ELOOP {
		return nil, fmt.Errorf("%s is a symbolic link; lbhc does not follow links for lease files: %w", path, errBadFile)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is a %s, not a regular file: %w", path, fileKind(uint32(st.Mode)), errBadFile)
	}
	if st.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes, larger than the %d-byte limit for a lease record: %w", path, st.Size, limit, errBadFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s grew beyond the %d-byte limit for a lease record: %w", path, limit, errBadFile)
	}
	return b, nil
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "device"
	case unix.S_IFLNK:
		return "symbolic link"
	}
	return "special file"
}

// checkLeaseDir refuses a lease directory that other users may write: they
// could replace the record, or plant a link where the lock file goes. The
// sticky bit (/tmp) does not help: names not yet created are anyone's.
func checkLeaseDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("directory %s does not exist (create it, or leave the lease file in the --state-dir)", dir)
		}
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode&0o002 != 0 {
		return fmt.Errorf("directory %s is writable by every user (mode %04o); put the lease file in a directory only lbhc's user can write, such as the --state-dir", dir, st.Mode&0o7777)
	}
	return nil
}

// openLockFile opens (creating, mode 0600) the lock file without following
// a link, and refuses one that belongs to another user (a user who owns
// it could hold the lock for ever). Root's file is accepted.
func openLockFile(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err == unix.ELOOP {
		return nil, fmt.Errorf("lock file %s is a symbolic link; refusing to follow it: %w", path, errBadFile)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("lock file %s is a %s, not a regular file: %w", path, fileKind(uint32(st.Mode)), errBadFile)
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid && st.Uid != 0 {
		f.Close()
		return nil, fmt.Errorf("lock file %s belongs to uid %d, not to this user (uid %d); another user could hold the lock: %w", path, st.Uid, uid, errBadFile)
	}
	return f, nil
}
