//go:build unix

package cmdline

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// ignoreHangup logs and ignores SIGHUP (by default it would kill the
// process without demoting: the VIP would stay, the lease would not be
// released). lbhc has no configuration reload: restart it to apply new
// settings (`systemctl restart lbhc`), which demotes gracefully.
func ignoreHangup(log *slog.Logger) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				log.Warn("SIGHUP received and ignored: lbhc does not reload its configuration; restart it to apply changes")
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
