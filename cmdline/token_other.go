//go:build !unix

package cmdline

import "os"

// checkTokenFileMode: Windows file permissions are ACLs, which the mode
// bits do not show; the installer protects the file's directory.
func checkTokenFileMode(string, os.FileInfo) error { return nil }
