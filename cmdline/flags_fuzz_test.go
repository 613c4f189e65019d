package cmdline

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/etcd"
	"github.com/lbhc/lbhc/probe"
	"github.com/lbhc/lbhc/vip"
)

// validateOnly is runAction's validation without its I/O (no files, no
// listeners, no backend): the same checks in the same order.
func validateOnly(c *cli.Context) error {
	if _, err := newLogger(c, nil); err != nil {
		return err
	}
	timing := election.Config{NodeID: c.String("node-id"), LeaseTTL: c.Duration("lease-ttl"),
		RenewDeadline: c.Duration("renew-deadline"), RetryPeriod: c.Duration("retry-period")}
	if err := timing.Validate(); err != nil {
		return err
	}
	if err := validateRunValues(c); err != nil {
		return err
	}
	if _, ok := backends[c.String("election")]; !ok {
		return flagErr("election", "unknown backend")
	}
	pcfg := probe.Config{Protocol: c.String("probe-protocol"), Ports: c.IntSlice("probe-port"), Address: c.String("probe-address"),
		Standby: c.String("probe-standby"), MaxConns: c.Int("probe-max-conns"), Timeout: c.Duration("probe-timeout"), Backlog: c.Int("probe-backlog")}
	var err error
	if pcfg.Allow, err = probe.ParseAllow(c.StringSlice("probe-allow")); err != nil {
		return err
	}
	if err := pcfg.Validate(); err != nil {
		return err
	}
	if err := agentSettings(c, timing).Validate(); err != nil {
		return err
	}
	if err := validateAdminAddress(c.String("admin-address"), false); err != nil {
		return err
	}
	if _, err := adminSocketGID(c.String("admin-socket-group")); err != nil {
		return err
	}
	if _, err := vip.ParseAddrs(c.StringSlice("vip")); err != nil {
		return err
	}
	if ep := c.String("etcd-endpoints"); ep != "" {
		if _, err := etcd.ParseEtcdEndpoints(ep); err != nil {
			return err
		}
	}
	return nil
}

// fuzzedFlags are the run flags whose values validateOnly judges.
var fuzzedFlags = []string{"node-id", "lease-name", "lease-ttl", "renew-deadline", "retry-period", "probe-port",
	"probe-protocol", "probe-address", "probe-standby", "probe-max-conns", "probe-timeout", "probe-backlog",
	"probe-allow", "admin-address", "admin-socket-group", "vip", "etcd-endpoints", "log-level", "log-format",
	"priority-step", "shutdown-timeout", "probe-kernel-fence"}

// FuzzRunFlagsAndEnv: any value of any of these flags, given on the command
// line or through its LBHC_* variable, is accepted or refused with exit 2;
// a refusal names a flag, is one line, and never echoes a URL password.
func FuzzRunFlagsAndEnv(f *testing.F) {
	f.Add(uint8(0), "node\r\nX: y", false)
	f.Add(uint8(1), "../../x", true)
	f.Add(uint8(4), "1ns", false)
	f.Add(uint8(5), "1,0x10,-3", true)
	f.Add(uint8(12), "168.63.129.16,::ffff:1.2.3.4/120", false)
	f.Add(uint8(13), "[::1]:", true)
	f.Add(uint8(16), "http://u:s3cr3t@h:1/x", false)
	f.Fuzz(func(t *testing.T, which uint8, value string, viaEnv bool) {
		flag := fuzzedFlags[int(which)%len(fuzzedFlags)]
		args := []string{"lbhc", "run"}
		if viaEnv {
			if strings.ContainsRune(value, 0) {
				return // an environment value cannot hold NUL
			}
			t.Setenv(envs(flag)[0], value)
		} else {
			args = append(args, "--"+flag+"="+value)
		}
		app := newApp()
		app.Writer, app.ErrWriter = &strings.Builder{}, &strings.Builder{}
		for _, cmd := range app.Commands {
			if cmd.Name == "run" {
				cmd.Action = validateOnly
			}
		}
		err := app.Run(args)
		if err == nil {
			return
		}
		msg := err.Error()
		if code := exitCode(err); code != 2 {
			t.Fatalf("--%s=%q: exit %d (%v); bad input must exit 2", flag, value, code, err)
		}
		// (urfave's own parse errors say "-flag" or "flag name".)
		if !strings.Contains(msg, "--") && !strings.Contains(msg, "flag ") && !strings.Contains(msg, " -") {
			t.Fatalf("--%s=%q: error names no flag: %q", flag, value, msg)
		}
		if strings.ContainsAny(msg, "\r\n") && !strings.ContainsAny(value, "\r\n") {
			t.Fatalf("--%s=%q: error is not one line: %q", flag, value, msg)
		}
		if i := strings.Index(value, "://"); i >= 0 && flag == "etcd-endpoints" {
			if at := strings.LastIndex(value, "@"); at > i+3 {
				if pw := value[i+3 : at]; len(pw) >= 4 && !strings.ContainsAny(pw, "/?#") && strings.Contains(msg, pw) {
					t.Fatalf("--%s=%q: the URL's user information appears in %q", flag, value, msg)
				}
			}
		}
	})
}
