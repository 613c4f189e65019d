package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/agent"
)

func clientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "admin-address", Value: "127.0.0.1:9102", EnvVars: envs("admin-address"), Usage: "the agent's admin API"},
		&cli.StringFlag{Name: "admin-token-file", EnvVars: envs("admin-token-file"), Usage: "bearer token file, when the agent requires one"},
		&cli.DurationFlag{Name: "timeout", Value: 60 * time.Second, Usage: "give up after this long"},
	}
}

func adminURL(c *cli.Context, path string) string {
	addr := c.String("admin-address")
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/") + path
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show this node's role, the leader and the term (exits 1 if the agent is unreachable)",
		Flags: append(clientFlags(), &cli.BoolFlag{Name: "json", Usage: "print the raw /status document"}),
		Action: func(c *cli.Context) error {
			ctx, cancel := context.WithTimeout(c.Context, min(c.Duration("timeout"), 5*time.Second))
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, adminURL(c, "/status"), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("agent unreachable at %s: %w", c.String("admin-address"), err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil || resp.StatusCode != http.StatusOK {
				return fmt.Errorf("agent at %s answered %s: %v", c.String("admin-address"), resp.Status, err)
			}
			if c.Bool("json") {
				_, err := c.App.Writer.Write(body)
				return err
			}
			var s agent.Status
			if err := json.Unmarshal(body, &s); err != nil {
				return fmt.Errorf("bad /status document: %w", err)
			}
			printStatus(c.App.Writer, s)
			return nil
		},
	}
}

func printStatus(w io.Writer, s agent.Status) {
	leader := s.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(w, "node %s is %s (term %d, election %s)\n", s.NodeID, s.Role, s.Term, s.Election)
	fmt.Fprintf(w, "leader: %s\n", leader)
	listening := "closed"
	if s.Probe.Listening {
		listening = "open"
	}
	fmt.Fprintf(w, "probe: %s %v %s, last probe %s ago\n", s.Probe.Protocol, s.Probe.Ports, listening, s.Probe.SinceLastProbe)
	if s.LeaseDeadlineMS > 0 {
		fmt.Fprintf(w, "lease: valid for %s unless renewed\n", (time.Duration(s.LeaseDeadlineMS) * time.Millisecond).String())
	}
	fmt.Fprintf(w, "healthy: %t, standby: %t, campaigning: %t, priority: %d\n", s.Healthy, s.Standby, s.Campaigning, s.Priority)
	for _, v := range s.VIPs {
		fmt.Fprintf(w, "vip %s on %s: present=%t\n", v.Addr, v.Interface, v.Present)
	}
	for _, a := range s.Actions {
		fmt.Fprintf(w, "action %s: %s %s\n", a.Name, a.State, a.LastError)
	}
	printEventStatus(w, s)
	for _, ch := range s.Checks {
		fmt.Fprintf(w, "check %s: healthy=%t %s\n", ch.Name, ch.Healthy, ch.LastError)
	}
	if s.BackendError != "" {
		fmt.Fprintf(w, "last backend error: %s\n", s.BackendError)
	}
	if s.LastReason != "" {
		fmt.Fprintf(w, "last change: %s (%s)\n", s.LastReason, s.LastChange.Format(time.RFC3339))
	}
}

func controlCommand(op, usage string) *cli.Command {
	return &cli.Command{
		Name:  op,
		Usage: usage,
		Flags: clientFlags(),
		Action: func(c *cli.Context) error {
			token, err := readToken(c.String("admin-token-file"))
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, adminURL(c, "/"+op), nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("agent unreachable at %s: %w", c.String("admin-address"), err)
			}
			defer resp.Body.Close()
			var r agent.CommandResult
			if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
				return fmt.Errorf("%s: agent answered %s", op, resp.Status)
			}
			if !r.OK {
				return fmt.Errorf("%s failed: %s", op, r.Message)
			}
			fmt.Fprintln(c.App.Writer, r.Message)
			return nil
		},
	}
}
