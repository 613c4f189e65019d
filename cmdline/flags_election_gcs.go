package cmdline

import (
	"context"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/gcs"
	"github.com/lbhc/lbhc/gcpauth"
)

// gcsPreflightTimeout bounds the start-up read and write probe of the
// lease object (and the first token fetch they need).
const gcsPreflightTimeout = 30 * time.Second

// gcsFlags are the flags of --election gcs.
func gcsFlags() []cli.Flag {
	const cat = "Election: Cloud Storage"
	return []cli.Flag{
		&cli.StringFlag{Name: "gcs-bucket", Category: cat, EnvVars: envs("gcs-bucket"),
			Usage: "Cloud Storage bucket of the lease objects (required with --election gcs)"},
		&cli.StringFlag{Name: "gcs-object-prefix", Category: cat, EnvVars: envs("gcs-object-prefix"), Value: "lbhc/",
			Usage: "lease object name = this prefix + --lease-name"},
		&cli.StringFlag{Name: "gcs-endpoint", Category: cat, EnvVars: envs("gcs-endpoint"),
			Usage: "base URL of the Cloud Storage JSON API (default https://storage.googleapis.com, or STORAGE_EMULATOR_HOST); " +
				"plain http (an emulator) sends no credentials"},
	}
}

// gcsEndpoint is --gcs-endpoint, else STORAGE_EMULATOR_HOST (the variable
// Google's clients read), else "" (Cloud Storage itself).
func gcsEndpoint(c *cli.Context) (string, error) {
	if v := c.String("gcs-endpoint"); v != "" {
		return gcs.ParseEndpoint("gcs-endpoint", v)
	}
	if v := os.Getenv("STORAGE_EMULATOR_HOST"); v != "" {
		// Not a flag: the message names the variable.
		ep, err := gcs.ParseEndpoint("gcs-endpoint", v)
		if err != nil {
			return "", flagErr("gcs-endpoint", "unset, and STORAGE_EMULATOR_HOST=%q is not host:port or an http(s) URL", v)
		}
		return ep, nil
	}
	return "", nil
}

// gcsCheck validates the Cloud Storage lease flags without I/O.
func gcsCheck(c *cli.Context, leaseName string, _ time.Duration) error {
	if err := gcs.ValidateBucket(c.String("gcs-bucket")); err != nil {
		return err
	}
	if _, err := gcs.ObjectName(c.String("gcs-object-prefix"), leaseName); err != nil {
		return err
	}
	_, err := gcsEndpoint(c)
	return err
}

// gcsBackend is --election gcs: the CAS lease algorithm over one object.
// Credentials are resolved here (files only; the metadata server at the
// first request), then the preflight proves read and write permission on
// the object, so a bad setup fails at start-up.
func gcsBackend(ctx context.Context, c *cli.Context, nodeID, leaseName string, ttl time.Duration) (election.Backend, error) {
	if err := gcsCheck(c, leaseName, ttl); err != nil {
		return nil, err
	}
	bucket := c.String("gcs-bucket")
	object, _ := gcs.ObjectName(c.String("gcs-object-prefix"), leaseName)
	endpoint, _ := gcsEndpoint(c)
	cfg := gcs.Config{Bucket: bucket, Object: object, Endpoint: endpoint}
	if gcs.NeedsCredentials(endpoint) {
		src, err := gcpauth.Find(gcpauth.Config{Scope: gcpauth.ScopeStorage})
		if err != nil {
			return nil, err
		}
		cfg.Token = src.Token
	}
	st := gcs.New(cfg)
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, gcsPreflightTimeout)
	defer cancel()
	if err := st.Preflight(ctx); err != nil {
		return nil, err
	}
	return election.NewCASBackend(st, nodeID, ttl, nil), nil
}
