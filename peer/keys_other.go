//go:build !unix

package peer

import "os"

// checkKeyFileMode: Windows file permissions are ACLs, which the mode
// bits do not show; the installer protects the file's directory.
func checkKeyFileMode(string, os.FileInfo) error { return nil }
