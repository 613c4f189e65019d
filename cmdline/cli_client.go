package cmdline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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
		&cli.StringFlag{Name: "state-dir", Value: defaultStateDir(), EnvVars: envs("state-dir"),
			Usage: "the agent's state dir: its admin socket there is used unless --admin-address is given"},
		&cli.DurationFlag{Name: "timeout", Value: 60 * time.Second, Usage: "give up after this long"},
	}
}

func adminURL(c *cli.Context, path string) string {
	if clientSocket(c) != "" {
		return "http://lbhc" + path
	}
	addr := c.String("admin-address")
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/") + path
}

// adminClient talks to the agent over its unix socket when clientSocket
// finds one, else over TCP.
func adminClient(c *cli.Context) *http.Client {
	sock := clientSocket(c)
	if sock == "" {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}

// adminTarget names where the CLI sends its request, for messages.
func adminTarget(c *cli.Context) string {
	if sock := clientSocket(c); sock != "" {
		return sock
	}
	return c.String("admin-address")
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show this node's role, the leader and the term (exits 1 if the agent is unreachable)",
		Flags: append(clientFlags(), &cli.BoolFlag{Name: "json", Usage: "print the raw /status document"}),
		Action: func(c *cli.Context) error {
			body, err := getStatus(c)
			if err != nil {
				return err
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

// getStatus fetches the agent's /status document.
func getStatus(c *cli.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(c.Context, min(c.Duration("timeout"), 5*time.Second))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, adminURL(c, "/status"), nil)
	resp, err := adminClient(c).Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent unreachable at %s: %w", adminTarget(c), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent at %s answered %s: %v", adminTarget(c), resp.Status, err)
	}
	return body, nil
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
	last := "no probe yet"
	if s.Probe.SinceLastProbe != "" {
		last = "last probe " + s.Probe.SinceLastProbe + " ago"
	}
	fmt.Fprintf(w, "probe: %s %v %s, %s\n", s.Probe.Protocol, s.Probe.Ports, listening, last)
	if s.LeaseDeadlineMS > 0 {
		fmt.Fprintf(w, "lease: valid for %s unless renewed\n", (time.Duration(s.LeaseDeadlineMS) * time.Millisecond).String())
	}
	if line := candidatesLine(s.Candidates); line != "" {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "healthy: %t, standby: %t, campaigning: %t, priority: %d\n", s.Healthy, s.Standby, s.Campaigning, s.Priority)
	for _, v := range s.VIPs {
		fmt.Fprintf(w, "vip %s on %s: present=%t\n", v.Addr, v.Interface, v.Present)
	}
	for _, a := range s.Actions {
		fmt.Fprintf(w, "action %s: %s %s\n", a.Name, a.State, a.LastError)
	}
	printEventStatus(w, s)
	printPeerStatus(w, s)
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

// candidatesLine tells a leader's operator who could take over.
func candidatesLine(c *agent.CandidatesStatus) string {
	switch {
	case c == nil || !c.Supported:
		return ""
	case c.Known && len(c.Nodes) == 0:
		return "can take over: nobody (no other node campaigned in the last " + c.Window + ")"
	case c.Known:
		return "can take over: " + strings.Join(c.Nodes, ", ")
	}
	return "can take over: not known yet (watching the other nodes for " + c.Window + ")"
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
			if op == "switchover" {
				// Say what is about to happen before it does (stderr: the
				// result stays the one line on stdout).
				var s agent.Status
				if body, err := getStatus(c); err == nil && json.Unmarshal(body, &s) == nil {
					if plan := agent.SwitchoverPlan(s); plan != "" {
						fmt.Fprintln(c.App.ErrWriter, plan)
					}
				}
			}
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, adminURL(c, "/"+op), nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := adminClient(c).Do(req)
			if err != nil {
				return fmt.Errorf("agent unreachable at %s: %w", adminTarget(c), err)
			}
			defer resp.Body.Close()
			var r agent.CommandResult
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err := json.Unmarshal(body, &r); err != nil {
				// 401/403 answers are plain text saying what is missing.
				return fmt.Errorf("%s: agent answered %s: %s", op, resp.Status, strings.TrimSpace(string(body)))
			}
			if !r.OK {
				return fmt.Errorf("%s: %s", op, r.Message)
			}
			fmt.Fprintln(c.App.Writer, r.Message)
			return nil
		},
	}
}
