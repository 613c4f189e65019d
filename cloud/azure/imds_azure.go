package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// DefaultAzureIMDSEndpoint is the link-local address of the Azure Instance
// Metadata Service, reachable from every Azure VM without a proxy.
const DefaultAzureIMDSEndpoint = "http://169.254.169.254"

// azureIMDSAPIVersion is the IMDS API version lbhc asks for; it is one of the
// versions the instance endpoint documents as generally available and has
// every field lbhc reads.
const azureIMDSAPIVersion = "2021-02-01"

// AzureInstance is what lbhc needs to know about the VM it runs on.
type AzureInstance struct {
	Name           string
	Location       string
	SubscriptionID string
	ResourceGroup  string
	// PrivateIP is the primary private IPv4 address of the primary NIC,
	// the next hop lbhc writes into route tables.
	PrivateIP netip.Addr
}

// AzureIMDS reads instance metadata from Azure IMDS.
type AzureIMDS struct {
	// Endpoint is the base URL; "" means DefaultAzureIMDSEndpoint.
	Endpoint string
	// Client is used for requests; nil means a client that bypasses any
	// HTTP proxy (IMDS refuses proxied requests) with a 2 s per-request
	// timeout.
	Client *http.Client
	// Attempts is the number of requests made before giving up (default 3);
	// 429 (IMDS allows ~5 requests/s), 5xx and network errors are retried.
	Attempts int
	// Backoff is the wait before the second attempt, doubled each time
	// (default 500 ms).
	Backoff time.Duration
}

// Instance fetches and parses the instance document.
func (c *AzureIMDS) Instance(ctx context.Context) (AzureInstance, error) {
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = DefaultAzureIMDSEndpoint
	}
	url := strings.TrimRight(endpoint, "/") + "/metadata/instance?api-version=" + azureIMDSAPIVersion
	client := c.Client
	if client == nil {
		client = &http.Client{
			Timeout: 2 * time.Second,
			Transport: &http.Transport{
				Proxy:       nil, // IMDS must be reached directly
				DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			},
		}
	}
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-time.After(backoff):
				backoff *= 2
			case <-ctx.Done():
				return AzureInstance{}, fmt.Errorf("azure imds: %w (last error: %w)", ctx.Err(), lastErr)
			}
		}
		body, retry, err := azureIMDSGet(ctx, client, url)
		if err == nil {
			return ParseAzureInstance(body)
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return AzureInstance{}, lastErr
}

// azureIMDSGet makes one request; retry says whether another attempt may
// succeed.
func azureIMDSGet(ctx context.Context, client *http.Client, url string) (body []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, fmt.Errorf("azure imds: %w", err)
	}
	req.Header.Set("Metadata", "true")
	resp, err := client.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("azure imds: %w", err)
	}
	defer resp.Body.Close()
	// The instance document is a few KiB; 1 MiB bounds a misbehaving server.
	body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, true, fmt.Errorf("azure imds: reading response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 ||
			resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone
		return nil, retry, fmt.Errorf("azure imds: %s: %s", resp.Status, azureSnippet(body))
	}
	return body, false, nil
}

func azureSnippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// ParseAzureInstance parses an IMDS /metadata/instance JSON document.
func ParseAzureInstance(body []byte) (AzureInstance, error) {
	var doc struct {
		Compute struct {
			Name              string `json:"name"`
			Location          string `json:"location"`
			SubscriptionID    string `json:"subscriptionId"`
			ResourceGroupName string `json:"resourceGroupName"`
		} `json:"compute"`
		Network struct {
			Interface []struct {
				IPv4 struct {
					IPAddress []struct {
						PrivateIPAddress string `json:"privateIpAddress"`
					} `json:"ipAddress"`
				} `json:"ipv4"`
			} `json:"interface"`
		} `json:"network"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return AzureInstance{}, fmt.Errorf("azure imds: parsing instance document: %w", err)
	}
	inst := AzureInstance{
		Name:           doc.Compute.Name,
		Location:       doc.Compute.Location,
		SubscriptionID: doc.Compute.SubscriptionID,
		ResourceGroup:  doc.Compute.ResourceGroupName,
	}
	if inst.SubscriptionID == "" || inst.ResourceGroup == "" {
		return AzureInstance{}, errors.New("azure imds: instance document lacks compute.subscriptionId or compute.resourceGroupName")
	}
	if len(doc.Network.Interface) == 0 || len(doc.Network.Interface[0].IPv4.IPAddress) == 0 {
		return AzureInstance{}, errors.New("azure imds: instance document has no private IPv4 address on the first network interface")
	}
	s := doc.Network.Interface[0].IPv4.IPAddress[0].PrivateIPAddress
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return AzureInstance{}, fmt.Errorf("azure imds: invalid private IPv4 address %q", s)
	}
	inst.PrivateIP = ip
	return inst, nil
}
