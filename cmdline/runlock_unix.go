//go:build unix

package cmdline

import (
	"os"

	"golang.org/x/sys/unix"
)

// tryLock opens path and takes an exclusive flock without waiting;
// errLocked when another process holds it. O_NOFOLLOW: a symlink planted
// in the state dir does not make lbhc write elsewhere.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}

func unlockFile(f *os.File) {
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	f.Close()
}
