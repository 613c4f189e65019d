package azblob

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/lbhc/lbhc/configerr"
	"github.com/lbhc/lbhc/election"
)

// Azure lease modes (--azure-lease-mode).
const (
	// AzureModeNative uses the blob service's own lease (15–60 s).
	AzureModeNative = "native"
	// AzureModeRecord keeps a CAS lease record as the blob's content, so
	// any lease-ttl the engine accepts works (faster crash failover).
	AzureModeRecord = "record"
)

// Azure blob lease durations are whole seconds between these bounds.
const (
	azureMinLease = 15 * time.Second
	azureMaxLease = 60 * time.Second
)

// DefaultAzureContainer is the container used when none is configured.
const DefaultAzureContainer = "lbhc"

// azurePreflightTimeout bounds the start-up checks (or the caller's
// context, if it ends earlier).
const azurePreflightTimeout = 20 * time.Second

// AzureConfig selects the storage account, container, blob and
// credentials of the azblob election backend. Exactly one way to
// authenticate is used: ConnectionString, Account+Key, or Microsoft Entra
// ID (DefaultAzureCredential) with Account or Endpoint.
type AzureConfig struct {
	Mode             string // AzureModeNative (default when "") or AzureModeRecord
	ConnectionString string // secret: never logged or put into errors
	Account          string // storage account name
	Key              string // secret: storage account key (base64)
	Endpoint         string // blob service URL, e.g. https://acct.blob.core.windows.net/
	Container        string // default DefaultAzureContainer
	CreateContainer  bool   // create Container when it does not exist
	LeaseName        string // blob name inside Container

	// Transport, when set, replaces the HTTP transport of every request
	// (tests cut the network with it; a proxy could be injected too).
	Transport policy.Transporter
	// Credential, when set, replaces DefaultAzureCredential in Entra ID
	// mode (e.g. a workload-identity or client-certificate credential).
	Credential azcore.TokenCredential
	// Logger receives start-up notes (container created). Default: none.
	Logger *slog.Logger
}

// azAuthKind is how the backend authenticates; it also decides which flag a
// credential problem is reported against.
type azAuthKind int

const (
	azAuthConnString azAuthKind = iota + 1
	azAuthSharedKey
	azAuthEntra
)

// Validate checks cfg without any I/O for the given lease-ttl. Errors
// are *ConfigError naming the flag.
func (c AzureConfig) Validate(ttl time.Duration) error {
	switch c.Mode {
	case "", AzureModeNative:
		if ttl < azureMinLease || ttl > azureMaxLease || ttl%time.Second != 0 {
			return configerr.New("lease-ttl", "%s is not possible with --azure-lease-mode native: an Azure blob lease lasts a whole number of seconds from 15s to 60s (use --azure-lease-mode record for shorter leases)", ttl)
		}
	case AzureModeRecord:
		if ttl <= 0 {
			return configerr.New("lease-ttl", "must be positive, got %s", ttl)
		}
	default:
		return configerr.New("azure-lease-mode", "%q is not one of native, record", c.Mode)
	}
	if _, err := c.auth(); err != nil {
		return err
	}
	if err := validContainer(c.containerName()); err != nil {
		return err
	}
	return validBlobName(c.LeaseName)
}

// target names the lease blob in messages: container/blob.
func (c AzureConfig) target() string { return c.containerName() + "/" + c.LeaseName }

func (c AzureConfig) containerName() string {
	if c.Container == "" {
		return DefaultAzureContainer
	}
	return c.Container
}

// auth decides the authentication method from the fields that are set.
func (c AzureConfig) auth() (azAuthKind, error) {
	if c.ConnectionString != "" {
		for _, o := range []struct{ flag, v string }{
			{"azure-storage-account", c.Account}, {"azure-storage-key", c.Key}, {"azure-blob-endpoint", c.Endpoint},
		} {
			if o.v != "" {
				return 0, configerr.New("azure-connection-string", "cannot be combined with --%s: the connection string already names the account and its credential", o.flag)
			}
		}
		return azAuthConnString, nil
	}
	if c.Account != "" && !validAccount(c.Account) {
		return 0, configerr.New("azure-storage-account", "%q is not a storage account name (3-24 lowercase letters and digits)", c.Account)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			// The endpoint is not echoed: a pasted SAS URL would leak its token.
			return 0, configerr.New("azure-blob-endpoint", "must be an http(s) URL of a blob service without a query, e.g. https://ACCOUNT.blob.core.windows.net/")
		}
	}
	if c.Key != "" {
		if c.Account == "" {
			return 0, configerr.New("azure-storage-key", "needs --azure-storage-account (the key signs requests for that account)")
		}
		return azAuthSharedKey, nil
	}
	if c.Account == "" && c.Endpoint == "" {
		return 0, configerr.New("azure-storage-account", "no Azure storage configured: set --azure-connection-string (or AZURE_STORAGE_CONNECTION_STRING), --azure-storage-account with --azure-storage-key, or --azure-storage-account / --azure-blob-endpoint for Microsoft Entra ID")
	}
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "https://") {
		return 0, configerr.New("azure-blob-endpoint", "must use https with Microsoft Entra ID authentication (bearer tokens are never sent in clear text)")
	}
	return azAuthEntra, nil
}

// endpoint is the blob service URL for account/key and Entra ID modes.
func (c AzureConfig) endpoint() string {
	if c.Endpoint != "" {
		return strings.TrimSuffix(c.Endpoint, "/") + "/"
	}
	return "https://" + c.Account + ".blob.core.windows.net/"
}

func validAccount(s string) bool {
	if len(s) < 3 || len(s) > 24 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// validContainer applies Azure's container naming rules.
func validContainer(s string) error {
	ok := len(s) >= 3 && len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-' && !strings.Contains(s, "--")
	for _, r := range s {
		ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}
	if !ok {
		return configerr.New("azure-container", "%q is not a container name (3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit)", s)
	}
	return nil
}

func validBlobName(s string) error {
	switch {
	case s == "":
		return configerr.New("lease-name", "must not be empty")
	case len(s) > 1024:
		return configerr.New("lease-name", "is %d characters long; an Azure blob name has at most 1024", len(s))
	case strings.HasSuffix(s, ".") || strings.HasSuffix(s, "/"):
		return configerr.New("lease-name", "%q must not end with a dot or a slash (Azure blob name rules)", s)
	}
	return nil
}

// clientOptions disables the SDK's own retries: the engine retries every
// retry-period and bounds each call by the self-fence deadline, and a
// retry inside one call would only hide the outage from it.
func (c AzureConfig) clientOptions() *container.ClientOptions {
	o := &container.ClientOptions{}
	o.Retry = policy.RetryOptions{MaxRetries: -1}
	o.Telemetry = policy.TelemetryOptions{ApplicationID: "lbhc"}
	if c.Transport != nil {
		o.Transport = c.Transport
	}
	return o
}

// containerClient builds the SDK client for the configured container.
func (c AzureConfig) containerClient() (*container.Client, azAuthKind, error) {
	kind, err := c.auth()
	if err != nil {
		return nil, 0, err
	}
	name := c.containerName()
	switch kind {
	case azAuthConnString:
		cl, err := container.NewClientFromConnectionString(c.ConnectionString, name, c.clientOptions())
		if err != nil {
			// The SDK's message is generic; the string itself is secret.
			return nil, 0, configerr.New("azure-connection-string", "not a valid storage connection string (want AccountName=...;AccountKey=... or BlobEndpoint=...;SharedAccessSignature=...)")
		}
		return cl, kind, nil
	case azAuthSharedKey:
		cred, err := azblob.NewSharedKeyCredential(c.Account, c.Key)
		if err != nil {
			return nil, 0, configerr.New("azure-storage-key", "not a valid storage account key (want the base64 key from the portal)")
		}
		cl, err := container.NewClientWithSharedKeyCredential(c.endpoint()+name, cred, c.clientOptions())
		if err != nil {
			return nil, 0, fmt.Errorf("azure blob client: %w", err)
		}
		return cl, kind, nil
	default:
		cred := c.Credential
		if cred == nil {
			dc, err := azidentity.NewDefaultAzureCredential(nil)
			if err != nil {
				return nil, 0, configerr.New(c.entraFlag(), "Microsoft Entra ID credential: %s", azFirstLine(err.Error()))
			}
			cred = dc
		}
		cl, err := container.NewClient(c.endpoint()+name, azTokenCred{cred}, c.clientOptions())
		if err != nil {
			return nil, 0, fmt.Errorf("azure blob client: %w", err)
		}
		return cl, kind, nil
	}
}

func (c AzureConfig) entraFlag() string {
	if c.Endpoint != "" {
		return "azure-blob-endpoint"
	}
	return "azure-storage-account"
}

// credFlag is the flag a rejected credential is reported against.
func (c AzureConfig) credFlag(k azAuthKind) string {
	switch k {
	case azAuthConnString:
		return "azure-connection-string"
	case azAuthSharedKey:
		return "azure-storage-key"
	}
	return c.entraFlag()
}

func azFirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// NewAzureBlob returns the azblob election backend for nodeID with the
// given lease-ttl: the native blob lease or, with Mode record, a CAS
// record kept in the blob. It validates cfg and then checks at start-up,
// bounded by ctx (at most 20 s), that the endpoint answers, the
// credentials are accepted with write permission and the container exists
// (creating it only with CreateContainer). Configuration problems come
// back as *ConfigError (exit 2) naming the flag; an unreachable endpoint
// is a runtime error naming the endpoint.
func NewAzureBlob(ctx context.Context, cfg AzureConfig, nodeID string, ttl time.Duration) (election.Backend, error) {
	if nodeID == "" {
		return nil, configerr.New("node-id", "must not be empty")
	}
	if err := cfg.Validate(ttl); err != nil {
		return nil, err
	}
	cc, kind, err := cfg.containerClient()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, azurePreflightTimeout)
	defer cancel()
	bb := cc.NewBlockBlobClient(cfg.LeaseName)
	if err := azPreflight(ctx, cfg, kind, cc, bb); err != nil {
		return nil, err
	}
	if cfg.Mode == AzureModeRecord {
		return election.NewCASBackend(&BlobRecordStore{blob: newBlockBlob(bb), target: cfg.target()}, nodeID, ttl, nil), nil
	}
	return newNativeBlob(bb, cfg.target(), nodeID, ttl), nil
}

// NewBlobRecordStore returns the record-mode Store on cfg's blob without
// start-up checks (tests and tools that inspect or repair the record).
func NewBlobRecordStore(cfg AzureConfig) (election.Store, error) {
	cc, _, err := cfg.containerClient()
	if err != nil {
		return nil, err
	}
	if err := validBlobName(cfg.LeaseName); err != nil {
		return nil, err
	}
	return &BlobRecordStore{blob: newBlockBlob(cc.NewBlockBlobClient(cfg.LeaseName)), target: cfg.target()}, nil
}

// azTokenError marks a failure to get a Microsoft Entra ID token, which
// at start-up means the machine has no usable identity (configuration),
// not that the storage service is down.
type azTokenError struct{ err error }

func (e *azTokenError) Error() string {
	return "Microsoft Entra ID token: " + azFirstLine(e.err.Error())
}
func (e *azTokenError) Unwrap() error { return e.err }

// azTokenCred tags the errors of the credential it wraps.
type azTokenCred struct{ c azcore.TokenCredential }

func (t azTokenCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := t.c.GetToken(ctx, o)
	if err != nil {
		return tok, &azTokenError{err}
	}
	return tok, nil
}
