package probe

import (
	"net"
)

// serveTCP answers a TCP probe: the accepted connection is the answer; the
// optional message is written before closing (LifeKeeper's "response
// message"). A follower in closed mode never gets here.
func serveTCP(c net.Conn, leading bool, cfg *Config) error {
	if !leading {
		abort(c)
		return nil
	}
	if cfg.Message != "" {
		if _, err := c.Write([]byte(cfg.Message)); err != nil {
			return err
		}
	}
	return c.Close()
}
