//go:build windows

package cmdline

import "log/slog"

// ignoreHangup: Windows has no SIGHUP; the service manager stops lbhc.
func ignoreHangup(*slog.Logger) (stop func()) { return func() {} }
