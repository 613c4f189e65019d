// Command lbhc keeps exactly one node of a group answering a cloud load
// balancer's health probe: the nodes share a lease, and only the holder owns
// the virtual IP, points cloud routing at itself and answers the probe.
//
// main only hands the process to the command line (package cmdline); see
// docs/LAYOUT.md for which package owns what.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lbhc/lbhc/cmdline"
)

// Stamped by scripts/release.sh with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmdline.Main(ctx, cmdline.Build{Version: version, Commit: commit, Date: date}, os.Args, os.Stderr)
	stop()
	if code != 0 {
		os.Exit(code)
	}
}
