package cmdline

import (
	"context"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/etcd"
)

// etcdFlags are the flags of --election etcd. The password is only ever
// read from a file, so it appears neither in ps nor in shell history.
func etcdFlags() []cli.Flag {
	const cat = "Election: etcd"
	return []cli.Flag{
		&cli.StringFlag{Name: "etcd-endpoints", Category: cat, EnvVars: envs("etcd-endpoints"),
			Usage: "comma-separated etcd client URLs, e.g. https://10.0.0.5:2379,https://10.0.0.6:2379"},
		&cli.StringFlag{Name: "etcd-prefix", Category: cat, EnvVars: envs("etcd-prefix"), Value: "/lbhc",
			Usage: "key prefix; the leader key is <prefix>/<lease-name>"},
		&cli.StringFlag{Name: "etcd-ca-file", Category: cat, EnvVars: envs("etcd-ca-file"),
			Usage: "PEM CA bundle that signed the etcd server certificates (https endpoints; default: system roots)"},
		&cli.StringFlag{Name: "etcd-cert-file", Category: cat, EnvVars: envs("etcd-cert-file"),
			Usage: "PEM client certificate for mutual TLS (with --etcd-key-file)"},
		&cli.StringFlag{Name: "etcd-key-file", Category: cat, EnvVars: envs("etcd-key-file"),
			Usage: "PEM private key of --etcd-cert-file"},
		&cli.StringFlag{Name: "etcd-username", Category: cat, EnvVars: envs("etcd-username"),
			Usage: "etcd user (with --etcd-password-file)"},
		&cli.StringFlag{Name: "etcd-password-file", Category: cat, EnvVars: envs("etcd-password-file"),
			Usage: "file holding the password of --etcd-username (one trailing newline is ignored)"},
		&cli.DurationFlag{Name: "etcd-dial-timeout", Category: cat, EnvVars: envs("etcd-dial-timeout"), Value: etcd.DefaultEtcdDialTimeout,
			Usage: "bound of connecting, authenticating and the first request at start-up"},
	}
}

// etcdCheck validates the etcd lease flags without I/O.
func etcdCheck(c *cli.Context, _ string, ttl time.Duration) error {
	if _, err := etcd.EtcdTTL(ttl); err != nil {
		return err
	}
	if prefix := c.String("etcd-prefix"); !strings.HasPrefix(prefix, "/") {
		return flagErr("etcd-prefix", "%q must start with /", prefix)
	}
	_, err := etcd.ParseEtcdEndpoints(c.String("etcd-endpoints"))
	return err
}

// etcdBackend is --election etcd: a native etcd lease with TTL = lease-ttl
// (whole seconds). It contacts etcd before returning, so an unreachable
// cluster or rejected credentials fail at start-up.
func etcdBackend(ctx context.Context, c *cli.Context, nodeID, leaseName string, ttl time.Duration) (election.Backend, error) {
	prefix := c.String("etcd-prefix")
	eps, err := etcd.ParseEtcdEndpoints(c.String("etcd-endpoints"))
	if err != nil {
		return nil, err
	}
	dial := c.Duration("etcd-dial-timeout")
	cli, err := etcd.NewEtcdClient(etcd.EtcdClientConfig{
		Endpoints: eps, CAFile: c.String("etcd-ca-file"), CertFile: c.String("etcd-cert-file"), KeyFile: c.String("etcd-key-file"),
		Username: c.String("etcd-username"), PasswordFile: c.String("etcd-password-file"), DialTimeout: dial,
	})
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, dial)
	defer cancel()
	b, err := etcd.NewEtcdBackend(ctx, cli, prefix, leaseName, nodeID, ttl)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return b, nil
}
