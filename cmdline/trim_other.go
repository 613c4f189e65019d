//go:build !linux

package cmdline

// dropExecutablePages is Linux-only (see trim_linux.go).
func dropExecutablePages() error { return nil }
