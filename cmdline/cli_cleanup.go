package cmdline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/vip"
)

// cleanupTimeout bounds `lbhc cleanup`: a few netlink calls.
const cleanupTimeout = 10 * time.Second

// cleanupCommand is `lbhc cleanup`: after lbhc was killed (kill -9, OOM
// kill) its VIPs stay on the interface until the next start removes them,
// or forever if it is not started again. systemd runs this as
// ExecStopPost, the package scripts on removal.
func cleanupCommand() *cli.Command {
	return &cli.Command{
		Name: "cleanup",
		Usage: "remove the addresses a stopped or killed lbhc left (only those carrying lbhc's mark; " +
			"with --vip only those VIPs); refuses while an lbhc with the same --state-dir runs",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state-dir", Value: defaultStateDir(), EnvVars: envs("state-dir"), Usage: "the state dir of the lbhc run to clean up after"},
			&cli.StringSliceFlag{Name: "vip", EnvVars: envs("vip"), Usage: "remove only these VIPs (default: every address lbhc marked)"},
		},
		Action: cleanupAction,
	}
}

func cleanupAction(c *cli.Context) error {
	if c.Args().Present() {
		return &usageError{Msg: fmt.Sprintf("cleanup takes no arguments, got %q (flags start with --)", c.Args().Slice())}
	}
	only, err := vip.ParseAddrs(c.StringSlice("vip"))
	if err != nil {
		var ce *vip.ConfigError
		if errors.As(err, &ce) {
			return flagErr(ce.Flag, "%s", ce.Msg)
		}
		return flagErr("vip", "%v", err)
	}
	dir := c.String("state-dir")
	// A live agent owns its addresses (a follower removes stray ones
	// itself); the kernel drops its lock when it dies, kill -9 included.
	if _, err := os.Stat(dir); err == nil {
		f, err := tryLock(filepath.Join(dir, runLockName))
		switch {
		case errors.Is(err, errLocked):
			return fmt.Errorf("cleanup refused: lbhc (pid %s) is running with --state-dir %s; it removes its own VIPs when it stops",
				lockHolder(filepath.Join(dir, runLockName)), dir)
		case err != nil:
			return fmt.Errorf("cleanup: run lock in --state-dir %s: %w", dir, err)
		}
		// Held while cleaning: an `lbhc run` starting now waits for it.
		defer unlockFile(f)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cleanup: --state-dir %s: %w", dir, err)
	}
	ctx, cancel := context.WithTimeout(c.Context, cleanupTimeout)
	defer cancel()
	removed, err := vip.RemoveMarked(ctx, only, nil)
	for _, r := range removed {
		fmt.Fprintf(c.App.Writer, "removed %s from %s\n", r.Prefix, r.Interface)
	}
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	if len(removed) == 0 {
		fmt.Fprintln(c.App.Writer, "nothing to remove")
	}
	return nil
}
