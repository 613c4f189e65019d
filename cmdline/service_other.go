//go:build !windows

package cmdline

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
)

// errNotWindows is what every `lbhc service` subcommand returns outside
// Windows: on Linux the service manager is systemd (systemd/lbhc.service).
var errNotWindows = fmt.Errorf("lbhc service: Windows services only; on Linux use systemd (systemctl enable --now lbhc): %w", errors.ErrUnsupported)

// serviceCommand is `lbhc service install|uninstall|run`. It is hidden
// outside Windows and every subcommand fails with errNotWindows (exit 1).
func serviceCommand() *cli.Command {
	fail := func(*cli.Context) error { return errNotWindows }
	return &cli.Command{
		Name:   "service",
		Usage:  "install, remove or run lbhc as a Windows service (Windows only)",
		Hidden: true,
		Subcommands: []*cli.Command{
			{Name: "install", Usage: "Windows only", Action: fail, SkipFlagParsing: true},
			{Name: "uninstall", Usage: "Windows only", Action: fail, SkipFlagParsing: true},
			{Name: "run", Usage: "Windows only", Action: fail, SkipFlagParsing: true},
		},
	}
}

// runningAsService is false outside Windows: systemd runs `lbhc run` as a
// plain process and stops it with SIGTERM.
func runningAsService() bool { return false }

// runService exists so callers compile on every OS; it is only reached when
// runningAsService reports true, which never happens here.
func runService(name string, run func(ctx context.Context) error) error {
	return fmt.Errorf("service %s: %w", name, errNotWindows)
}
