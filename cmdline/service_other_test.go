//go:build !windows

package cmdline

import (
	"errors"
	"io"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestServiceCommandFailsOutsideWindows(t *testing.T) {
	for _, args := range [][]string{
		{"lbhc", "service", "install", "--name", "x", "--", "--vip", "10.0.0.5"},
		{"lbhc", "service", "uninstall"},
		{"lbhc", "service", "run"},
	} {
		app := &cli.App{
			Name:           "lbhc",
			Writer:         io.Discard,
			ErrWriter:      io.Discard,
			ExitErrHandler: func(*cli.Context, error) {},
			Commands:       []*cli.Command{serviceCommand()},
		}
		err := app.Run(args)
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%v: err = %v, want errors.ErrUnsupported", args[1:], err)
			continue
		}
		const want = "lbhc service: Windows services only; on Linux use systemd (systemctl enable --now lbhc): unsupported operation"
		if err.Error() != want {
			t.Errorf("%v: err = %q, want %q", args[1:], err, want)
		}
		if got := exitCode(err); got != 1 {
			t.Errorf("%v: exit code %d, want 1", args[1:], got)
		}
	}
	if runningAsService() {
		t.Error("runningAsService() = true outside Windows")
	}
	if err := runService("lbhc", nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("runService: err = %v, want errors.ErrUnsupported", err)
	}
}
