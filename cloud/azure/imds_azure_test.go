package azure

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/cloud/cloudtest"
)

func azIMDSFake(t *testing.T) *cloudtest.AzureIMDS {
	t.Helper()
	f := cloudtest.NewAzureIMDS(cloudtest.AzureInstanceData{
		Name: "vm-a", Location: "westeurope", SubscriptionID: azSub, ResourceGroup: "rg-vms",
		VMID: "02aab8a4-74ef-476e-8182-f6d2ba4166a6", PrivateIPs: []string{"10.0.1.4", "10.0.1.10"},
	})
	t.Cleanup(f.Close)
	return f
}

func TestAzureIMDSInstance(t *testing.T) {
	f := azIMDSFake(t)
	c := &AzureIMDS{Endpoint: f.URL(), Backoff: time.Millisecond}
	got, err := c.Instance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := AzureInstance{Name: "vm-a", Location: "westeurope", SubscriptionID: azSub,
		ResourceGroup: "rg-vms", PrivateIP: netip.MustParseAddr("10.0.1.4")}
	if got != want {
		t.Errorf("Instance = %+v, want %+v", got, want)
	}
}

func TestAzureIMDSRetries(t *testing.T) {
	f := azIMDSFake(t)
	f.FailNext(2, http.StatusTooManyRequests)
	c := &AzureIMDS{Endpoint: f.URL() + "/", Backoff: time.Millisecond}
	if _, err := c.Instance(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.Requests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}

	f.FailNext(10, http.StatusInternalServerError)
	before := f.Requests()
	c = &AzureIMDS{Endpoint: f.URL(), Attempts: 2, Backoff: time.Millisecond}
	_, err := c.Instance(context.Background())
	if want := `azure imds: 500 Internal Server Error: {"error":"Internal Server Error"}`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if n := f.Requests() - before; n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestAzureIMDSSlowAndCancelled(t *testing.T) {
	f := azIMDSFake(t)
	f.DelayNext(5 * time.Second)
	c := &AzureIMDS{Endpoint: f.URL(), Client: &http.Client{Timeout: 200 * time.Millisecond}, Backoff: time.Millisecond}
	start := time.Now()
	if _, err := c.Instance(context.Background()); err != nil {
		t.Fatalf("slow first response not retried: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Instance(ctx); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestAzureIMDSFakeProtocol(t *testing.T) {
	f := azIMDSFake(t)
	for _, tc := range []struct {
		path string
		hdr  map[string]string
		want int
	}{
		{"/metadata/instance?api-version=2021-02-01", map[string]string{"Metadata": "true"}, 200},
		{"/metadata/instance?api-version=2021-02-01", nil, 400},
		{"/metadata/instance", map[string]string{"Metadata": "true"}, 400},
		{"/metadata/instance?api-version=2021-02-01", map[string]string{"Metadata": "true", "X-Forwarded-For": "1.2.3.4"}, 400},
	} {
		req, _ := http.NewRequest("GET", f.URL()+tc.path, nil)
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %v = %d, want %d", tc.path, tc.hdr, resp.StatusCode, tc.want)
		}
	}
}

func TestParseAzureInstance(t *testing.T) {
	const good = `{"compute":{"name":"vm","location":"eastus","subscriptionId":"s","resourceGroupName":"g"},
		"network":{"interface":[{"ipv4":{"ipAddress":[{"privateIpAddress":"10.1.2.3","publicIpAddress":""}]}}]}}`
	tests := []struct {
		body string
		want AzureInstance
		err  string
	}{
		{body: good, want: AzureInstance{Name: "vm", Location: "eastus", SubscriptionID: "s", ResourceGroup: "g", PrivateIP: netip.MustParseAddr("10.1.2.3")}},
		{body: `{`, err: "azure imds: parsing instance document: unexpected end of JSON input"},
		{body: `{"compute":{"resourceGroupName":"g"}}`, err: "azure imds: instance document lacks compute.subscriptionId or compute.resourceGroupName"},
		{body: `{"compute":{"subscriptionId":"s","resourceGroupName":"g"},"network":{"interface":[]}}`,
			err: "azure imds: instance document has no private IPv4 address on the first network interface"},
		{body: `{"compute":{"subscriptionId":"s","resourceGroupName":"g"},"network":{"interface":[{"ipv4":{"ipAddress":[{"privateIpAddress":"fd00::1"}]}}]}}`,
			err: `azure imds: invalid private IPv4 address "fd00::1"`},
	}
	for _, tc := range tests {
		got, err := ParseAzureInstance([]byte(tc.body))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("error = %v, want %q", err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("= %+v, %v; want %+v", got, err, tc.want)
		}
	}
}
