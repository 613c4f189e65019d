package cmdline

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// healthCommand is `lbhc health`: the liveness (or, with --ready, the
// readiness) check of a running agent, for container health checks in
// images without curl. Exit 0 when the endpoint answers 200, else 1.
func healthCommand() *cli.Command {
	return &cli.Command{
		Name:  "health",
		Usage: "exit 0 if the agent is alive (GET /healthz answers 200), 1 otherwise; with --ready, /readyz",
		Flags: append(clientFlags(), &cli.BoolFlag{Name: "ready", Usage: "check readiness (/readyz) instead of liveness (/healthz)"}),
		Action: func(c *cli.Context) error {
			path := "/healthz"
			if c.Bool("ready") {
				path = "/readyz"
			}
			ctx, cancel := context.WithTimeout(c.Context, min(c.Duration("timeout"), 5*time.Second))
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, adminURL(c, path), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("agent unreachable at %s: %w", c.String("admin-address"), err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			msg := strings.TrimSpace(string(body))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s: %s", path, resp.Status, msg)
			}
			fmt.Fprintln(c.App.Writer, msg)
			return nil
		},
	}
}
