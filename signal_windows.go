//go:build windows

package main

import "log/slog"

// ignoreHangup: Windows has no SIGHUP; the service manager stops lbhc.
func ignoreHangup(*slog.Logger) (stop func()) { return func() {} }
