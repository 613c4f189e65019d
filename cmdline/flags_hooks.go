package cmdline

import (
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/cloud"
)

// hookFlags are the flags of the user hooks run at promotion and demotion.
func hookFlags() []cli.Flag {
	const cat = "Hooks"
	return []cli.Flag{
		&cli.StringFlag{Name: "on-promote", Category: cat, EnvVars: envs("on-promote"),
			Usage: "command run when this node becomes leader, after the VIPs and before the probe opens; " +
				"run by /bin/sh -c (Windows: cmd.exe /D /S /C); a non-zero exit or timeout fails the promotion. " +
				"Environment: LBHC_EVENT, LBHC_ROLE, LBHC_TERM, LBHC_NODE_ID, LBHC_LEADER, LBHC_VIPS"},
		&cli.StringFlag{Name: "on-demote", Category: cat, EnvVars: envs("on-demote"),
			Usage: "command run when this node stops leading (same shell and environment as --on-promote)"},
		&cli.DurationFlag{Name: "hook-timeout", Category: cat, EnvVars: envs("hook-timeout"), Value: 30 * time.Second,
			Usage: "time limit of one hook run; at the limit the hook and all its child processes are killed"},
	}
}

// hookActions builds the hook action when --on-promote or --on-demote is
// set, else returns nil, nil.
func hookActions(c *cli.Context, log *slog.Logger, m *cloud.Metrics) ([]cloud.Action, error) {
	promote, demote := c.String("on-promote"), c.String("on-demote")
	for _, flag := range []string{"on-promote", "on-demote"} {
		if c.IsSet(flag) && strings.TrimSpace(c.String(flag)) == "" {
			return nil, flagErr(flag, "empty command")
		}
	}
	timeout := c.Duration("hook-timeout")
	if timeout <= 0 {
		return nil, flagErr("hook-timeout", "must be positive, got %s", timeout)
	}
	if promote == "" && demote == "" {
		return nil, nil
	}
	return []cloud.Action{cloud.NewHook(cloud.HookConfig{
		OnPromote: promote,
		OnDemote:  demote,
		Timeout:   timeout,
	}, log, m)}, nil
}
