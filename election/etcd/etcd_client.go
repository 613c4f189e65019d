package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/lbhc/lbhc/configerr"
)

// DefaultEtcdDialTimeout bounds connecting and the first request at start.
const DefaultEtcdDialTimeout = 5 * time.Second

// Reconnect policy of the gRPC connection to etcd.
const (
	etcdMaxReconnectDelay = 2 * time.Second // longest pause between connection attempts
	etcdMinConnectTimeout = 3 * time.Second // one attempt's TCP+TLS handshake bound
)

// EtcdClientConfig is the connection part of the etcd flags.
type EtcdClientConfig struct {
	Endpoints    []string // URLs: http(s)://host:port
	CAFile       string   // PEM CA bundle to verify the servers; "" = system roots (https only)
	CertFile     string   // PEM client certificate (with KeyFile) for mutual TLS
	KeyFile      string
	Username     string
	PasswordFile string        // the password is read from a file, never a flag value
	DialTimeout  time.Duration // > 0
}

// RedactURL hides the user information of a URL (user:password@) in
// anything lbhc prints. It works on text that does not parse as a URL
// too: everything between "://" and the last "@" of the authority goes.
func RedactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		i = -3
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	return s[:i+3] + "xxxxx@" + rest[at+1:]
}

// ParseEtcdEndpoints splits a comma list of endpoint URLs and checks each.
func ParseEtcdEndpoints(list string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, configerr.New("etcd-endpoints", "%q is not an endpoint URL like http://10.0.0.5:2379 or https://etcd1:2379", RedactURL(e))
		}
		if u.User != nil {
			// The client would not use them, and a password in a flag
			// shows in ps and shell history.
			return nil, configerr.New("etcd-endpoints", "%q carries credentials: use --etcd-username and --etcd-password-file", RedactURL(e))
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, configerr.New("etcd-endpoints", "must list at least one URL, e.g. https://10.0.0.5:2379,https://10.0.0.6:2379")
	}
	return out, nil
}

// clientConfig validates c and builds the clientv3 configuration: TLS from
// the files, the password from its file.
func (c EtcdClientConfig) clientConfig() (clientv3.Config, error) {
	cfg := clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: c.DialTimeout,
		// The engine bounds every call by its context; the client's own
		// logs would only repeat the errors it returns, in another format.
		Logger: zap.NewNop(),
		// Detect a dead connection (half-open TCP, silent partition) in
		// about 13 s rather than the OS default of minutes, so the client
		// reconnects. 10 s is gRPC's floor for client pings and above
		// etcd's default --grpc-keepalive-min-time (5 s), which closes
		// connections that ping more often. Fencing never waits for this:
		// the engine's deadline does.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		// gRPC backs off reconnecting up to 120 s by default; a lease
		// client must be back within a few seconds of etcd returning.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: etcdMaxReconnectDelay},
			MinConnectTimeout: etcdMinConnectTimeout,
		})},
	}
	if len(c.Endpoints) == 0 {
		return cfg, configerr.New("etcd-endpoints", "must list at least one URL, e.g. https://10.0.0.5:2379,https://10.0.0.6:2379")
	}
	if c.DialTimeout <= 0 {
		return cfg, configerr.New("etcd-dial-timeout", "must be positive, got %s", c.DialTimeout)
	}
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return cfg, err
	}
	cfg.TLS = tlsCfg
	switch {
	case c.Username == "" && c.PasswordFile != "":
		return cfg, configerr.New("etcd-username", "must be set when --etcd-password-file is")
	case c.Username != "" && c.PasswordFile == "":
		return cfg, configerr.New("etcd-password-file", "must be set when --etcd-username is")
	case c.Username != "":
		pw, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return cfg, configerr.New("etcd-password-file", "%v", err)
		}
		// One trailing newline is what editors and `echo` leave.
		p := strings.TrimSuffix(strings.TrimSuffix(string(pw), "\n"), "\r")
		if p == "" {
			return cfg, configerr.New("etcd-password-file", "%s is empty", c.PasswordFile)
		}
		cfg.Username, cfg.Password = c.Username, p
	}
	return cfg, nil
}

func (c EtcdClientConfig) tlsConfig() (*tls.Config, error) {
	https := false
	for _, e := range c.Endpoints {
		https = https || strings.HasPrefix(e, "https://")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		if c.CertFile == "" {
			return nil, configerr.New("etcd-cert-file", "must be set when --etcd-key-file is")
		}
		return nil, configerr.New("etcd-key-file", "must be set when --etcd-cert-file is")
	}
	if !https {
		switch {
		case c.CAFile != "":
			return nil, configerr.New("etcd-ca-file", "is set but no --etcd-endpoints URL uses https://")
		case c.CertFile != "":
			return nil, configerr.New("etcd-cert-file", "is set but no --etcd-endpoints URL uses https://")
		}
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, configerr.New("etcd-ca-file", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, configerr.New("etcd-ca-file", "no PEM certificate found in %s", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, configerr.New("etcd-cert-file", "with --etcd-key-file: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// NewEtcdClient validates c and creates the client. Creating it does not
// contact etcd; NewEtcdBackend's first request does.
func NewEtcdClient(c EtcdClientConfig) (*clientv3.Client, error) {
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		// With a user name, New already authenticates.
		return nil, etcdStartError(c.Endpoints, "", "", err)
	}
	return cli, nil
}
