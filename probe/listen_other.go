//go:build !linux

package probe

import (
	"errors"
	"net"
	"net/netip"
)

// loadFence: the kernel fence is Linux-only.
func loadFence([]netip.Prefix) (deadlineFence, error) { return nil, errors.ErrUnsupported }

// listen uses the standard listener; Go sets SO_REUSEADDR on Unix, and on
// Windows TIME_WAIT does not block a new listener on the port.
func listen(addr string, _ int, _ deadlineFence) (net.Listener, error) {
	return net.Listen("tcp", addr)
}
