//go:build !linux

package probe

import "net"

// listen uses the standard listener; Go sets SO_REUSEADDR on Unix, and on
// Windows TIME_WAIT does not block a new listener on the port.
func listen(addr string, _ int) (net.Listener, error) { return net.Listen("tcp", addr) }
