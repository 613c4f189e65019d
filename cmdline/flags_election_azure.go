package cmdline

import (
	"context"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/azblob"
)

// azureStdConnStringEnv is the Azure SDKs' standard variable; it is used
// when no lbhc flag names the storage account.
const azureStdConnStringEnv = "AZURE_STORAGE_CONNECTION_STRING"

// azureLeaseFlags are the flags of --election azblob (issues 3 and 9).
func azureLeaseFlags() []cli.Flag {
	const cat = "Azure blob lease (--election azblob)"
	return []cli.Flag{
		&cli.StringFlag{Name: "azure-lease-mode", Category: cat, Value: azblob.AzureModeNative, EnvVars: envs("azure-lease-mode"),
			Usage: "native (blob lease, --lease-ttl 15s-60s) or record (ETag compare-and-swap record, any --lease-ttl: faster crash failover)"},
		&cli.StringFlag{Name: "azure-connection-string", Category: cat, EnvVars: envs("azure-connection-string"),
			Usage: "storage connection string (secret; prefer the environment variable; default: $" + azureStdConnStringEnv + " when no account is given)"},
		&cli.StringFlag{Name: "azure-storage-account", Category: cat, EnvVars: envs("azure-storage-account"),
			Usage: "storage account name; with --azure-storage-key for shared-key auth, else Microsoft Entra ID (managed identity, az login, workload identity)"},
		&cli.StringFlag{Name: "azure-storage-key", Category: cat, EnvVars: envs("azure-storage-key"),
			Usage: "storage account key (secret; prefer the environment variable)"},
		&cli.StringFlag{Name: "azure-blob-endpoint", Category: cat, EnvVars: envs("azure-blob-endpoint"),
			Usage: "blob service URL (default https://<account>.blob.core.windows.net/; sovereign clouds, private endpoints)"},
		&cli.StringFlag{Name: "azure-container", Category: cat, Value: azblob.DefaultAzureContainer, EnvVars: envs("azure-container"),
			Usage: "container holding the lease blob <lease-name>"},
		&cli.BoolFlag{Name: "azure-create-container", Category: cat, EnvVars: envs("azure-create-container"),
			Usage: "create the container when it does not exist (needs permission to create containers)"},
	}
}

// azureConfigFrom maps the flags to azblob.AzureConfig.
// AZURE_STORAGE_CONNECTION_STRING applies only when no lbhc flag or
// variable names the account, so a machine-wide SDK setting does not
// override an explicit one.
func azureConfigFrom(c *cli.Context, leaseName string) azblob.AzureConfig {
	cfg := azblob.AzureConfig{
		Mode:             c.String("azure-lease-mode"),
		ConnectionString: c.String("azure-connection-string"),
		Account:          c.String("azure-storage-account"),
		Key:              c.String("azure-storage-key"),
		Endpoint:         c.String("azure-blob-endpoint"),
		Container:        c.String("azure-container"),
		CreateContainer:  c.Bool("azure-create-container"),
		LeaseName:        leaseName,
	}
	if cfg.ConnectionString == "" && cfg.Account == "" && cfg.Key == "" && cfg.Endpoint == "" {
		cfg.ConnectionString = os.Getenv(azureStdConnStringEnv)
	}
	return cfg
}

// azureLeaseCheck validates the Azure lease flags without I/O.
func azureLeaseCheck(c *cli.Context, leaseName string, ttl time.Duration) error {
	return azureConfigFrom(c, leaseName).Validate(ttl)
}

// azureLeaseBackend builds --election azblob. It checks the storage
// account, credentials and container before returning (bounded by ctx, at
// most 20 s), so a configuration error stops lbhc with exit 2 before it
// campaigns.
func azureLeaseBackend(ctx context.Context, c *cli.Context, nodeID, leaseName string, ttl time.Duration) (election.Backend, error) {
	return azblob.NewAzureBlob(ctx, azureConfigFrom(c, leaseName), nodeID, ttl)
}
