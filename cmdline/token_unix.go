//go:build unix

package cmdline

import "os"

// checkTokenFileMode refuses a token file that others could rewrite (as
// ssh refuses such keys): whoever can write it chooses the token.
func checkTokenFileMode(path string, fi os.FileInfo) error {
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return flagErr("admin-token-file", "%s is writable by group or others (mode %04o): chmod go-w it", path, m)
	}
	return nil
}
