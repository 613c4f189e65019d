//go:build unix

package peer

import (
	"os"

	"github.com/lbhc/lbhc/configerr"
)

// checkKeyFileMode refuses a key file others could read (they could forge
// messages) or write (they could choose the key).
func checkKeyFileMode(path string, fi os.FileInfo) error {
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return configerr.New(keyFlag, "%s is accessible by group or others (mode %04o): chmod 600 it", path, m)
	}
	return nil
}
