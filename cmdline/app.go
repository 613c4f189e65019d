// Package cmdline is lbhc's command line: the flags and environment
// variables of every part, the subcommands (run, status, switchover,
// standby, resume, cleanup, health, version, service) and the Windows
// service wrapper. main only calls Main.
//
// 'lbhc run' goes through three phases, in this order (flags_parts.go):
//  1. parse and validate every flag with no I/O: a bad value exits 2
//     naming the flag before anything touches the network or the system;
//  2. resolve: instance-metadata look-ups, key and token files;
//  3. build the parts (probe, VIP, election, cloud actions, checks) and
//     hand them to the agent.
package cmdline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// Build identifies the binary; main stamps it (scripts/release.sh sets
// main.version, main.commit and main.date with -ldflags -X).
type Build struct {
	Version, Commit, Date string
}

// What 'lbhc version' prints; Main sets them from its Build.
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

// Main runs the command line with args (os.Args) until ctx is cancelled or
// the command returns, prints any error to stderr once and returns the
// process exit code: 0 success, 2 bad input, otherwise the error's code.
func Main(ctx context.Context, b Build, args []string, stderr io.Writer) int {
	version, commit, date = b.Version, b.Commit, b.Date
	err := newApp().RunContext(ctx, args)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "lbhc:", err)
	var ue *usageError
	if errors.As(err, &ue) || exitCode(err) == 2 {
		return 2
	}
	return exitCode(err)
}

func newApp() *cli.App {
	app := &cli.App{
		Name:  "lbhc",
		Usage: "lease-driven load balancer health check responder: only the leader answers the probe",
		Description: "Every node of a group runs 'lbhc run'. The nodes elect one leader through a lease " +
			"(file, Azure blob, DynamoDB, Cloud Storage, etcd, or none). Only the leader owns the VIPs, moves cloud " +
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
		// Errors are printed and mapped to exit codes in Main, once.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	// A flag that does not parse is bad input like any other: exit 2.
	for _, cmd := range app.Commands {
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return flagParseError(cmd, err) }
	}
	return app
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
