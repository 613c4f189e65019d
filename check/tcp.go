package check

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// tcpCheck is healthy when a TCP connection to addr opens within the
// timeout; it closes the connection at once without sending anything.
type tcpCheck struct {
	name string
	addr string // host:port as given; resolved on every run
}

func parseTCP(u *url.URL) (Check, error) {
	spec := safeName(u)
	switch {
	case u.User != nil:
		return nil, configErr("check", "%q: tcp:// takes no user info", spec)
	case u.Host == "" || u.Port() == "":
		return nil, configErr("check", "%q: missing port (want tcp://host:port)", spec)
	case u.Hostname() == "":
		return nil, configErr("check", "%q: missing host (want tcp://host:port)", spec)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return nil, configErr("check", "%q: tcp:// takes only host:port (no path, query or fragment)", spec)
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		return nil, configErr("check", "%q: port %q out of range 1-65535", spec, u.Port())
	}
	return &tcpCheck{name: "tcp://" + u.Host, addr: u.Host}, nil
}

func (c *tcpCheck) Name() string { return c.name }

func (c *tcpCheck) Run(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	_ = conn.Close() // the connection opening is the result
	return nil
}
