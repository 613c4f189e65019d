package agent

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Admin connection limits. The API answers in milliseconds, so short
// timeouts cost a real client nothing and free an idle or slow one's
// descriptor quickly.
const (
	defaultAdminMaxConns = 64
	adminHeaderTimeout   = 2 * time.Second  // request line + headers
	adminReadTimeout     = 5 * time.Second  // whole request (POSTs have no body)
	adminIdleTimeout     = 10 * time.Second // keep-alive between requests
	adminMaxHeaderBytes  = 8 << 10
)

// adminServers are the admin API's listeners: TCP and, when configured,
// the unix socket.
type adminServers struct {
	srvs []*http.Server
	sock string
}

// Close stops both servers and removes the socket file.
func (s *adminServers) Close() error {
	var errs []error
	for _, srv := range s.srvs {
		errs = append(errs, srv.Close())
	}
	if s.sock != "" {
		if err := os.Remove(s.sock); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *Agent) adminLoopback() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.adminLoop
}

func (a *Agent) adminSocketPath() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.adminSock
}

func (a *Agent) serveAdmin() (*adminServers, error) {
	ln, err := net.Listen("tcp", a.cfg.AdminAddress)
	if err != nil {
		return nil, &configError{"admin-address", fmt.Sprintf("cannot listen on %s: %v", a.cfg.AdminAddress, err)}
	}
	loop := false
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		loop = ap.Addr().Unmap().IsLoopback()
	}
	out := &adminServers{}
	var sl net.Listener
	if path := a.socketPath(); path != "" {
		sl, err = listenAdminSocket(path, a.cfg.AdminSocketGID)
		switch {
		case err == nil:
			out.sock = path
		case socketRequired:
			ln.Close()
			return nil, err
		default:
			a.log.Warn("admin socket unavailable; state changes need the token over TCP", "err", err)
		}
	}
	a.mu.Lock()
	a.adminAddr, a.adminLoop, a.adminSock = ln.Addr().String(), loop, out.sock
	a.mu.Unlock()
	max := a.cfg.AdminMaxConns
	if max <= 0 {
		max = defaultAdminMaxConns
	}
	out.srvs = append(out.srvs, a.startAdminServer(capListener(ln, max), false))
	if sl != nil {
		out.srvs = append(out.srvs, a.startAdminServer(capListener(sl, max), true))
	}
	return out, nil
}

func (a *Agent) socketPath() string {
	switch {
	case a.cfg.AdminSocket == "-":
		return ""
	case a.cfg.AdminSocket != "":
		return a.cfg.AdminSocket
	case a.cfg.StateDir != "":
		return filepath.Join(a.cfg.StateDir, "admin.sock")
	}
	return ""
}

func (a *Agent) startAdminServer(ln net.Listener, trusted bool) *http.Server {
	srv := &http.Server{
		Handler:           a.adminMux(trusted),
		ReadHeaderTimeout: adminHeaderTimeout,
		ReadTimeout:       adminReadTimeout,
		IdleTimeout:       adminIdleTimeout,
		MaxHeaderBytes:    adminMaxHeaderBytes,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin API stopped", "err", err)
		}
	}()
	return srv
}

// listenAdminSocket creates the unix socket with its final mode before
// anyone can connect: it is bound in a fresh 0700 directory, given its mode
// and group there, then renamed into place (a rename keeps the inode, so
// there is no instant at which the socket is reachable with the umask's
// mode).
func listenAdminSocket(path string, gid int) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &configError{"state-dir", fmt.Sprintf("cannot create %s for the admin socket: %v", dir, err)}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, &configError{"state-dir", fmt.Sprintf("%s exists and is not a socket", path)}
		}
		// A live socket belongs to another agent on the same state dir;
		// one nobody answers on was left by a crashed run.
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, &configError{"state-dir", fmt.Sprintf("another lbhc serves the admin socket %s: give each agent its own state dir", path)}
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale admin socket: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(dir, ".s") // short: sun_path holds 107 bytes
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	tmpSock := filepath.Join(tmp, "s")
	l, err := net.Listen("unix", tmpSock)
	if err != nil {
		return nil, &configError{"state-dir", fmt.Sprintf("cannot listen on the admin socket %s: %v", path, err)}
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // the socket moves; adminServers.Close removes it
	mode := os.FileMode(0o600)
	if gid > 0 {
		mode = 0o660
		if err := os.Lchown(tmpSock, -1, gid); err != nil {
			l.Close()
			return nil, &configError{"admin-socket-group", fmt.Sprintf("cannot give the admin socket group %d: %v", gid, err)}
		}
	}
	if err := os.Chmod(tmpSock, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin socket mode: %w", err)
	}
	if err := os.Rename(tmpSock, path); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return l, nil
}

// capListener closes connections beyond max at once instead of letting
// them queue in the process: descriptors held by the admin API stay below
// max+1 whatever a client does.
func capListener(l net.Listener, max int) net.Listener {
	return &cappedListener{Listener: l, slots: make(chan struct{}, max)}
}

type cappedListener struct {
	net.Listener
	slots chan struct{}
}

func (l *cappedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &cappedConn{Conn: c, slots: l.slots}, nil
		default:
			c.Close()
		}
	}
}

type cappedConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}
