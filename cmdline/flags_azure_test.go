package cmdline

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

const azRouteTestSub = "00000000-1111-2222-3333-444444444444"

// runAzRouteFlags parses args with azureRouteFlags and hookFlags and calls
// azureActions and hookActions.
func runAzRouteFlags(t *testing.T, args ...string) ([]cloud.Action, error) {
	t.Helper()
	var acts []cloud.Action
	app := &cli.App{
		Name:           "lbhc",
		Flags:          append(azureRouteFlags(), hookFlags()...),
		Writer:         io.Discard,
		ErrWriter:      io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			log := slog.New(slog.NewTextHandler(t.Output(), nil))
			m := cloud.NewMetrics(nil)
			s, err := azureParse(c)
			if err != nil {
				return err
			}
			az, err := azureActions(c.Context, c, s, log, m)
			if err != nil {
				return err
			}
			hk, err := hookActions(c, log, m)
			if err != nil {
				return err
			}
			acts = append(az, hk...)
			return nil
		},
	}
	err := app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	return acts, err
}

// azRouteIsolate keeps the developer's Azure credentials out of the test.
func azRouteIsolate(t *testing.T) {
	for _, v := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT",
		"IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT"} {
		t.Setenv(v, "") // restored after the test …
		os.Unsetenv(v)  // … but absent during it (azidentity treats "" as set)
	}
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential") // never shell out to az / azd
}

func azRouteIMDS(t *testing.T) *cloudtest.AzureIMDS {
	f := cloudtest.NewAzureIMDS(cloudtest.AzureInstanceData{Name: "vm-a", Location: "westeurope",
		SubscriptionID: azRouteTestSub, ResourceGroup: "rg-net", PrivateIPs: []string{"10.0.1.4"}})
	t.Cleanup(f.Close)
	return f
}

func TestAzureRouteFlagsNoneSet(t *testing.T) {
	azRouteIsolate(t)
	imds := azRouteIMDS(t)
	acts, err := runAzRouteFlags(t, "--azure-imds-endpoint", imds.URL())
	if err != nil || acts != nil {
		t.Fatalf("got %v, %v; want nil, nil", acts, err)
	}
	if n := imds.Requests(); n != 0 {
		t.Errorf("%d metadata requests without an Azure action", n)
	}
}

func TestAzureRouteAndHookFlagErrors(t *testing.T) {
	azRouteIsolate(t)
	imds := azRouteIMDS(t)
	full := "/subscriptions/" + azRouteTestSub + "/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt"
	base := []string{"--azure-imds-endpoint", imds.URL(), "--azure-route-table", full}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--azure-private-ip", "10.0.0.300"}, `invalid --azure-private-ip: "10.0.0.300" is not an IP address`},
		{[]string{"--azure-private-ip", "fe80::1%eth0"}, `invalid --azure-private-ip: "fe80::1%eth0" is not an IP address`},
		{[]string{"--azure-route-name", "my route"}, `invalid --azure-route-name: name "my route" contains ' '; only letters, digits, '_', '.' and '-' are allowed`},
		{[]string{"--azure-route-poll-interval", "100ms"}, "invalid --azure-route-poll-interval: must be at least 1s, got 100ms"},
		{[]string{"--azure-route-attempts", "0"}, "invalid --azure-route-attempts: must be at least 1, got 0"},
		{[]string{"--azure-arm-endpoint", "http://10.1.2.3:8080"}, `invalid --azure-arm-endpoint: "http://10.1.2.3:8080" uses plain http; only loopback addresses may (the bearer token would travel in clear text)`},
		{[]string{"--azure-arm-endpoint", "ftp://x"}, `invalid --azure-arm-endpoint: "ftp://x" is not an http(s) URL`},
		{[]string{"--azure-imds-endpoint", "169.254.169.254"}, `invalid --azure-imds-endpoint: "169.254.169.254" is not an http(s) URL`},
		{[]string{"--azure-private-ip", "10.0.1.4", "--azure-route-table", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v"},
			`invalid --azure-route-table: route table "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v" has resource type Microsoft.Network/virtualNetworks, want Microsoft.Network/routeTables`},
		{[]string{"--azure-private-ip", "10.0.1.4", "--on-promote", " "}, "invalid --on-promote: empty command"},
		{[]string{"--azure-private-ip", "10.0.1.4", "--on-demote", "true", "--hook-timeout", "0s"}, "invalid --hook-timeout: must be positive, got 0s"},
	} {
		_, err := runAzRouteFlags(t, append(append([]string{}, base...), tc.args...)...)
		if err == nil || err.Error() != tc.want || exitCode(err) != 2 {
			t.Errorf("%v: err = %v (exit %d), want %q (exit 2)", tc.args, err, exitCode(err), tc.want)
		}
	}
	if n := imds.Requests(); n != 0 {
		t.Errorf("%d metadata requests for invalid flags", n)
	}
}

func TestAzureRouteFlagsMetadataFailureNamesFlag(t *testing.T) {
	azRouteIsolate(t)
	imds := azRouteIMDS(t)
	imds.FailNext(100, http.StatusInternalServerError)
	full := "/subscriptions/" + azRouteTestSub + "/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt"
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--azure-route-table", full}, "azure-private-ip"},
		{[]string{"--azure-route-table", "rt", "--azure-private-ip", "10.0.1.4"}, "azure-subscription-id"},
		{[]string{"--azure-route-table", "rt", "--azure-private-ip", "10.0.1.4", "--azure-subscription-id", "s"}, "azure-resource-group"},
	} {
		_, err := runAzRouteFlags(t, append([]string{"--azure-imds-endpoint", imds.URL()}, tc.args...)...)
		want := "invalid --" + tc.flag + `: not set, and Azure instance metadata failed (outside Azure give it explicitly): azure imds: 500 Internal Server Error: {"error":"Internal Server Error"}`
		if err == nil || err.Error() != want || exitCode(err) != 2 {
			t.Errorf("%v: err = %v, want %q", tc.args, err, want)
		}
	}
	// Everything given: no metadata request at all.
	before := imds.Requests()
	acts, err := runAzRouteFlags(t, "--azure-imds-endpoint", imds.URL(), "--azure-route-table", "rt",
		"--azure-private-ip", "10.0.1.4", "--azure-subscription-id", "s", "--azure-resource-group", "g")
	if err != nil || len(acts) != 1 || acts[0].Name() != "azure-route" {
		t.Fatalf("got %v, %v", acts, err)
	}
	if imds.Requests() != before {
		t.Error("metadata was read although every value was given")
	}
}

// The whole wiring: flags → Azure IMDS (subscription, resource group,
// private IP) → DefaultAzureCredential (managed identity through the App
// Service identity endpoint, faked here) → armnetwork against the ARM fake.
func TestAzureRouteFlagsEndToEnd(t *testing.T) {
	azRouteIsolate(t)
	imds := azRouteIMDS(t)
	arm := cloudtest.NewAzureARMPlain()
	t.Cleanup(arm.Close)
	arm.AddRouteTable(azRouteTestSub, "rg-net", "rt-app", "westeurope")

	var tokenReqs atomic.Int64
	identity := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenReqs.Add(1)
		if r.Header.Get("X-IDENTITY-HEADER") != "lbhc-test-secret" {
			http.Error(w, `{"error":"bad header"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access_token": cloudtest.AzureTestToken,
			"expires_on":   strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
			"resource":     r.URL.Query().Get("resource"),
			"token_type":   "Bearer",
		})
	}))
	t.Cleanup(identity.Close)
	t.Setenv("IDENTITY_ENDPOINT", identity.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "lbhc-test-secret")

	acts, err := runAzRouteFlags(t, "--azure-imds-endpoint", imds.URL(), "--azure-arm-endpoint", arm.URL(),
		"--azure-route-table", "rt-app", "--azure-route-poll-interval", "1s", "--on-promote", "true")
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].Name() != "azure-route" || acts[1].Name() != "hook" {
		t.Fatalf("actions = %v", acts)
	}
	ev := cloud.Event{Role: "leader", Term: 1, NodeID: "a", Leader: "a",
		VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}, Valid: func() bool { return true }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := acts[0].Promote(ctx, ev); err != nil {
		t.Fatal(err)
	}
	r, ok := arm.Route(azRouteTestSub, "rg-net", "rt-app", "lbhc-10-0-0-5-32")
	if !ok || r.AddressPrefix != "10.0.0.5/32" || r.NextHopType != "VirtualAppliance" || r.NextHopIPAddress != "10.0.1.4" || r.ProvisioningState != "Succeeded" {
		t.Errorf("route = %+v, %v", r, ok)
	}
	if tokenReqs.Load() == 0 {
		t.Error("the managed identity endpoint was never asked for a token")
	}
	if err := acts[1].Promote(ctx, ev); err != nil {
		t.Errorf("hook: %v", err)
	}
}
