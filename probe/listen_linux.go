//go:build linux

package probe

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// listen opens a TCP listener with SO_REUSEADDR (so rebinding after a
// demotion never fails on TIME_WAIT) and a small backlog: net.Listen would
// use somaxconn (4096), and a frozen process's kernel keeps completing
// handshakes until that queue is full.
func listen(addr string, backlog int, fence deadlineFence) (net.Listener, error) {
	ap, err := netip.ParseAddrPort(addrOrAny(addr))
	if err != nil {
		return nil, err
	}
	family := unix.AF_INET6
	var sa unix.Sockaddr
	if ap.Addr().Is4() {
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "probe "+addr)
	defer f.Close() // FileListener dups the descriptor
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if family == unix.AF_INET6 && !ap.Addr().IsUnspecified() {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if kf, ok := fence.(*kernelFence); ok && kf != nil {
		// Attached before listen, so no packet reaches the socket unfiltered.
		if err := kf.attach(fd); err != nil {
			return nil, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return net.FileListener(f)
}

// addrOrAny turns ":26001" into "[::]:26001" (dual-stack wildcard).
func addrOrAny(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "" {
		return net.JoinHostPort("::", port)
	}
	return addr
}
