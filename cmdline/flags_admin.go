package cmdline

import (
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// adminSocketName is the admin API's unix socket in the state dir; the
// CLI's commands use it when it exists (file mode decides who may).
const adminSocketName = "admin.sock"

// adminFlags are the run flags of the admin API's access control: who may
// use the admin socket and whether /metrics needs the token.
func adminFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "admin-socket-group", EnvVars: envs("admin-socket-group"),
			Usage: "group (name or id) whose members may use the admin socket <state-dir>/admin.sock (mode 0660); default: owner only (0600)"},
		&cli.BoolFlag{Name: "admin-open-metrics", EnvVars: envs("admin-open-metrics"),
			Usage: "serve /metrics without the token on a non-loopback --admin-address (every other endpoint there needs it)"},
	}
}

// validateAdminAddress checks --admin-address before anything listens: a
// host:port, and a non-loopback one only with a token (there every
// endpoint needs it, so without one the API would be unusable or open).
func validateAdminAddress(addr string, haveToken bool) error {
	if addr == "" {
		return flagErr("admin-address", "must not be empty (default 127.0.0.1:9102)")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return flagErr("admin-address", "%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return flagErr("admin-address", "%q: port %q is not a number 0-65535", addr, port)
	}
	if isLoopbackHost(host) || haveToken {
		return nil
	}
	return flagErr("admin-address", "%s is not a loopback address: set --admin-token-file (every endpoint there then needs the token)", addr)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// adminSocketGID resolves --admin-socket-group: "" = none (0).
func adminSocketGID(group string) (int, error) {
	if group == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(group); err == nil {
		if n <= 0 {
			return 0, flagErr("admin-socket-group", "%d: give a group other than root (root may always connect)", n)
		}
		return n, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, flagErr("admin-socket-group", "%v", err)
	}
	n, err := strconv.Atoi(g.Gid)
	if err != nil || n <= 0 {
		return 0, flagErr("admin-socket-group", "group %q has id %s: give a group other than root", group, g.Gid)
	}
	return n, nil
}

// validateLeaseName keeps --lease-name a plain name: it becomes a file
// name in the state dir, a blob name, an item key and an etcd key.
func validateLeaseName(name string) error {
	switch {
	case name == "":
		return flagErr("lease-name", "must not be empty")
	case strings.ContainsAny(name, `/\`) || name == "." || name == ".." || strings.Contains(name, ".."):
		return flagErr("lease-name", "%q must be a plain name (no path separators, no ..)", name)
	case strings.IndexFunc(name, isControl) >= 0:
		return flagErr("lease-name", "%q must not contain control characters", name)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// clientSocket is the admin socket the CLI's commands use, or "" for TCP:
// the socket is used when it exists and --admin-address was not given
// (an explicit address names another agent or a remote one).
func clientSocket(c *cli.Context) string {
	if c.IsSet("admin-address") {
		return ""
	}
	p := filepath.Join(c.String("state-dir"), adminSocketName)
	if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return p
	}
	return ""
}
