package cmdline

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/azblob"
	"github.com/lbhc/lbhc/itest"
)

// runAzureFlags parses args with azureLeaseFlags and returns the config
// they map to and the error of azureLeaseBackend (run with ttl when ttl
// is non-zero).
func runAzureFlags(t *testing.T, ttl time.Duration, args ...string) (azblob.AzureConfig, election.Backend, error) {
	t.Helper()
	var (
		cfg azblob.AzureConfig
		b   election.Backend
	)
	app := &cli.App{
		Name:           "lbhc",
		Flags:          azureLeaseFlags(),
		Writer:         io.Discard,
		ErrWriter:      io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			cfg = azureConfigFrom(c, "grp")
			if ttl == 0 {
				return nil
			}
			ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
			defer cancel()
			if err := azureLeaseCheck(c, "grp", ttl); err != nil {
				return err
			}
			var err error
			b, err = azureLeaseBackend(ctx, c, "n1", "grp", ttl)
			return err
		},
	}
	err := app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	if b != nil {
		t.Cleanup(func() { b.Close() })
	}
	return cfg, b, err
}

// azureIsolate keeps the developer's Azure environment out of the test.
func azureIsolate(t *testing.T) {
	for _, v := range []string{"AZURE_STORAGE_CONNECTION_STRING", "LBHC_AZURE_LEASE_MODE", "LBHC_AZURE_CONNECTION_STRING",
		"LBHC_AZURE_STORAGE_ACCOUNT", "LBHC_AZURE_STORAGE_KEY", "LBHC_AZURE_BLOB_ENDPOINT", "LBHC_AZURE_CONTAINER", "LBHC_AZURE_CREATE_CONTAINER"} {
		t.Setenv(v, "") // restores the old value after the test
		os.Unsetenv(v)  // set-but-empty would override flag defaults
	}
}

func TestAzureLeaseFlagsDefaults(t *testing.T) {
	azureIsolate(t)
	cfg, _, err := runAzureFlags(t, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := azblob.AzureConfig{Mode: "native", Container: "lbhc", LeaseName: "grp"}
	if cfg != want {
		t.Fatalf("defaults %+v, want %+v", cfg, want)
	}
}

func TestAzureLeaseFlagsFromEnv(t *testing.T) {
	azureIsolate(t)
	for k, v := range map[string]string{
		"LBHC_AZURE_LEASE_MODE": "record", "LBHC_AZURE_STORAGE_ACCOUNT": "acct", "LBHC_AZURE_STORAGE_KEY": "a2V5",
		"LBHC_AZURE_BLOB_ENDPOINT": "https://acct.blob.core.windows.net/", "LBHC_AZURE_CONTAINER": "leases",
		"LBHC_AZURE_CREATE_CONTAINER": "true",
		// Not used: an account is configured.
		"AZURE_STORAGE_CONNECTION_STRING": "AccountName=other;AccountKey=a2V5",
	} {
		t.Setenv(k, v)
	}
	cfg, _, err := runAzureFlags(t, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := azblob.AzureConfig{Mode: "record", Account: "acct", Key: "a2V5", Endpoint: "https://acct.blob.core.windows.net/",
		Container: "leases", CreateContainer: true, LeaseName: "grp"}
	if cfg != want {
		t.Fatalf("from env %+v, want %+v", cfg, want)
	}
}

func TestAzureStandardConnectionStringEnv(t *testing.T) {
	azureIsolate(t)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=std;AccountKey=a2V5")
	cfg, _, err := runAzureFlags(t, 0)
	if err != nil || cfg.ConnectionString != "AccountName=std;AccountKey=a2V5" {
		t.Fatalf("AZURE_STORAGE_CONNECTION_STRING not used: %q, %v", cfg.ConnectionString, err)
	}
	cfg, _, err = runAzureFlags(t, 0, "--azure-connection-string", "AccountName=flag;AccountKey=a2V5")
	if err != nil || cfg.ConnectionString != "AccountName=flag;AccountKey=a2V5" {
		t.Fatalf("flag must win over AZURE_STORAGE_CONNECTION_STRING: %q, %v", cfg.ConnectionString, err)
	}
	cfg, _, err = runAzureFlags(t, 0, "--azure-storage-account", "acct")
	if err != nil || cfg.ConnectionString != "" {
		t.Fatalf("AZURE_STORAGE_CONNECTION_STRING used although --azure-storage-account is set: %q, %v", cfg.ConnectionString, err)
	}
}

// Invalid flag values fail before any request, with exit status 2 and one
// line naming the flag. No secret appears in the message.
func TestAzureLeaseBackendFlagErrors(t *testing.T) {
	const key = "c2VjcmV0LWtleS1tYXRlcmlhbA=="
	cs := "AccountName=acct;AccountKey=" + key
	for _, tc := range []struct {
		args []string
		ttl  time.Duration
		want string
	}{
		{[]string{"--azure-connection-string", cs}, 5 * time.Second,
			"invalid --lease-ttl: 5s is not possible with --azure-lease-mode native: an Azure blob lease lasts a whole number of seconds from 15s to 60s (use --azure-lease-mode record for shorter leases)"},
		{[]string{"--azure-connection-string", cs, "--azure-lease-mode", "fast"}, 15 * time.Second,
			`invalid --azure-lease-mode: "fast" is not one of native, record`},
		{nil, 15 * time.Second,
			"invalid --azure-storage-account: no Azure storage configured: set --azure-connection-string (or AZURE_STORAGE_CONNECTION_STRING), --azure-storage-account with --azure-storage-key, or --azure-storage-account / --azure-blob-endpoint for Microsoft Entra ID"},
		{[]string{"--azure-connection-string", cs, "--azure-storage-key", key}, 15 * time.Second,
			"invalid --azure-connection-string: cannot be combined with --azure-storage-key: the connection string already names the account and its credential"},
		{[]string{"--azure-storage-key", key, "--azure-blob-endpoint", "https://a.blob.core.windows.net/"}, 15 * time.Second,
			"invalid --azure-storage-key: needs --azure-storage-account (the key signs requests for that account)"},
		{[]string{"--azure-storage-account", "acct", "--azure-storage-key", "not base64!"}, 15 * time.Second,
			"invalid --azure-storage-key: not a valid storage account key (want the base64 key from the portal)"},
		{[]string{"--azure-connection-string", "garbage" + key}, 15 * time.Second,
			"invalid --azure-connection-string: not a valid storage connection string (want AccountName=...;AccountKey=... or BlobEndpoint=...;SharedAccessSignature=...)"},
		{[]string{"--azure-connection-string", cs, "--azure-container", "Leases"}, 15 * time.Second,
			`invalid --azure-container: "Leases" is not a container name (3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit)`},
		{[]string{"--azure-blob-endpoint", "http://10.1.2.3:10000/acct"}, 15 * time.Second,
			"invalid --azure-blob-endpoint: must use https with Microsoft Entra ID authentication (bearer tokens are never sent in clear text)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			azureIsolate(t)
			_, b, err := runAzureFlags(t, tc.ttl, tc.args...)
			if err == nil || b != nil {
				t.Fatalf("got backend %v, error %v; want error", b, err)
			}
			if exitCode(err) != 2 {
				t.Fatalf("exit code %d for %v, want 2", exitCode(err), err)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n %s\nwant\n %s", err, tc.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatal("error shows the key")
			}
		})
	}
}

// TestAzureLeaseBackendAzurite wires the flags to a real backend on
// Azurite in both modes and takes the lease once.
func TestAzureLeaseBackendAzurite(t *testing.T) {
	cs := itest.Env(t, "LBHC_TEST_AZURITE_CONNECTION_STRING")
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	ctr := fmt.Sprintf("lbhc-flags-%x", rnd)
	for _, mode := range []string{"native", "record"} {
		t.Run(mode, func(t *testing.T) {
			azureIsolate(t)
			t.Setenv("AZURE_STORAGE_CONNECTION_STRING", cs)
			cfg, b, err := runAzureFlags(t, 15*time.Second, "--azure-lease-mode", mode, "--azure-container", ctr+"-"+mode, "--azure-create-container")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if mode == "record" {
				// A released record (term 0): without one, a record-mode
				// node waits a lease TTL (15 s here) before it creates one.
				rs, err := azblob.NewBlobRecordStore(cfg)
				if err == nil {
					_, err = rs.Create(ctx, election.Record{TTL: time.Second})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			st, err := b.TryAcquire(ctx, false)
			if err != nil || !st.Held || st.Term != 1 || st.Leader != "n1" {
				t.Fatalf("first acquire: %+v, %v", st, err)
			}
			if err := b.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
