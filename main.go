// Command lbhc keeps exactly one node of a group answering a cloud load
// balancer's health probe: the nodes share a lease, and only the holder owns
// the virtual IP, points cloud routing at itself and answers the probe.
//
// main only wires the CLI (urfave/cli/v2) to the agent; see DESIGN.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Stamped by scripts/release.sh with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

func newApp() *cli.App {
	app := &cli.App{
		Name:  "lbhc",
		Usage: "lease-driven load balancer health check responder: only the leader answers the probe",
		Description: "Every node of a group runs 'lbhc run'. The nodes elect one leader through a lease " +
			"(file, Azure blob, DynamoDB, etcd, or none). Only the leader owns the VIPs, moves cloud " +
			"routing and answers the load balancer's probe (port 26001 by default). Every run flag " +
			"can be set by an environment variable LBHC_<FLAG>, e.g. --lease-ttl as LBHC_LEASE_TTL.",
		Version:              version,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		Commands: []*cli.Command{
			runCommand(),
			statusCommand(),
			controlCommand("switchover", "move leadership to another node (run on the leader)"),
			controlCommand("standby", "maintenance: demote and stop campaigning, kept across restarts"),
			controlCommand("resume", "leave standby and campaign again"),
			cleanupCommand(),
			healthCommand(),
			versionCommand(),
			serviceCommand(),
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return flagParseError(nil, err)
		},
		// Errors are printed and mapped to exit codes in main, once.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	// A flag that does not parse is bad input like any other: exit 2.
	for _, cmd := range app.Commands {
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return flagParseError(cmd, err) }
	}
	return app
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp().RunContext(ctx, os.Args)
	stop()
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) || exitCode(err) == 2 {
			fmt.Fprintln(os.Stderr, "lbhc:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "lbhc:", err)
		os.Exit(exitCode(err))
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print version, commit and build date",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "lbhc %s (commit %s, built %s)\n", version, commit, date)
			return nil
		},
	}
}
