//go:build !linux

package main

// dropExecutablePages is Linux-only (see trim_linux.go).
func dropExecutablePages() error { return nil }
