package cmdline

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/azure"
)

// azureRouteFlags are the flags of the azure-route failover action and of
// Azure instance metadata. (The azblob lease backend's --azure-* flags live
// in flags_election_azure.go.)
func azureRouteFlags() []cli.Flag {
	const cat = "Azure route tables"
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "azure-route-table", Category: cat, EnvVars: envs("azure-route-table"),
			Usage: "route table to point the VIP routes at this node, as a full resource ID " +
				"(/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/routeTables/NAME) or a bare name in this VM's " +
				"subscription and resource group; repeatable (enables the azure-route action)"},
		&cli.StringFlag{Name: "azure-route-name", Category: cat, EnvVars: envs("azure-route-name"),
			Usage: `route name; "{vip}" is replaced by the VIP (10.0.0.5 → 10-0-0-5-32). Default "lbhc-{vip}". ` +
				`Without "{vip}" only one VIP is allowed`},
		&cli.StringFlag{Name: "azure-private-ip", Category: cat, EnvVars: envs("azure-private-ip"),
			Usage: "next hop (VirtualAppliance) written into the routes: this node's private IP (default: Azure instance metadata)"},
		&cli.StringFlag{Name: "azure-subscription-id", Category: cat, EnvVars: envs("azure-subscription-id"),
			Usage: "subscription of bare --azure-route-table names (default: Azure instance metadata)"},
		&cli.StringFlag{Name: "azure-resource-group", Category: cat, EnvVars: envs("azure-resource-group"),
			Usage: "resource group of bare --azure-route-table names (default: Azure instance metadata)"},
		&cli.StringFlag{Name: "azure-arm-endpoint", Category: cat, EnvVars: envs("azure-arm-endpoint"),
			Usage: "Azure Resource Manager base URL (default: public Azure, https://management.azure.com); " +
				"plain http only to loopback addresses, for tests"},
		&cli.StringFlag{Name: "azure-imds-endpoint", Category: cat, EnvVars: envs("azure-imds-endpoint"),
			Value: azure.DefaultAzureIMDSEndpoint, Usage: "Azure instance metadata base URL"},
		&cli.DurationFlag{Name: "azure-route-poll-interval", Category: cat, EnvVars: envs("azure-route-poll-interval"),
			Value: 2 * time.Second, Usage: "wait between polls of a route update when Azure sends no Retry-After (min 1s)"},
		&cli.IntFlag{Name: "azure-route-attempts", Category: cat, EnvVars: envs("azure-route-attempts"),
			Value: 3, Usage: "attempts per route at promotion before it fails (each request is also retried on 429/5xx)"},
	}
}

// azureSettings is the validated flag input of the azure-route action.
type azureSettings struct {
	tables   []string
	hop      netip.Addr // from --azure-private-ip; invalid: from instance metadata
	name     string
	poll     time.Duration
	attempts int
	opts     arm.ClientOptions
	imdsURL  string
}

// azureParse validates the azure-route flags without touching the network.
// tables is empty when --azure-route-table is not set.
func azureParse(c *cli.Context) (azureSettings, error) {
	s := azureSettings{tables: c.StringSlice("azure-route-table")}
	if len(s.tables) == 0 {
		return s, nil
	}
	if v := c.String("azure-private-ip"); v != "" {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return s, flagErr("azure-private-ip", "%q is not an IP address", v)
		}
		s.hop = a.Unmap()
	}
	s.name = c.String("azure-route-name")
	if _, err := azure.AzureRouteName(s.name, netip.MustParseAddr("10.0.0.1")); err != nil {
		return s, flagErr("azure-route-name", "%v", err)
	}
	s.poll = c.Duration("azure-route-poll-interval")
	if s.poll < time.Second {
		return s, flagErr("azure-route-poll-interval", "must be at least 1s, got %s", s.poll)
	}
	s.attempts = c.Int("azure-route-attempts")
	if s.attempts < 1 {
		return s, flagErr("azure-route-attempts", "must be at least 1, got %d", s.attempts)
	}
	var err error
	if s.opts, err = azureARMOptions(c.String("azure-arm-endpoint")); err != nil {
		return s, err
	}
	s.imdsURL = c.String("azure-imds-endpoint")
	if u, err := url.Parse(s.imdsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return s, flagErr("azure-imds-endpoint", "%q is not an http(s) URL", s.imdsURL)
	}
	return s, nil
}

// azureActions builds the azure-route action from validated settings, or
// returns nil, nil without --azure-route-table. Instance metadata is read
// only for values not given by flags.
func azureActions(ctx context.Context, c *cli.Context, s azureSettings, log *slog.Logger, m *cloud.Metrics) ([]cloud.Action, error) {
	if len(s.tables) == 0 {
		return nil, nil
	}
	tables, hop, name, poll, attempts, opts, imdsURL := s.tables, s.hop, s.name, s.poll, s.attempts, s.opts, s.imdsURL

	// Bare table names need the subscription and resource group.
	sub, rg := c.String("azure-subscription-id"), c.String("azure-resource-group")
	needIMDS := !hop.IsValid()
	for _, t := range tables {
		if !strings.Contains(t, "/") && (sub == "" || rg == "") {
			needIMDS = true
		}
	}
	if needIMDS {
		inst, err := (&azure.AzureIMDS{Endpoint: imdsURL}).Instance(ctx)
		if err != nil {
			missing := "azure-private-ip"
			if hop.IsValid() {
				missing = "azure-subscription-id"
				if sub != "" {
					missing = "azure-resource-group"
				}
			}
			return nil, flagErr(missing, "not set, and Azure instance metadata failed (outside Azure give it explicitly): %v", err)
		}
		log.Info("azure node identity", "vm", inst.Name, "private_ip", inst.PrivateIP, "subscription", inst.SubscriptionID, "resource_group", inst.ResourceGroup)
		if !hop.IsValid() {
			hop = inst.PrivateIP
		}
		if sub == "" {
			sub = inst.SubscriptionID
		}
		if rg == "" {
			rg = inst.ResourceGroup
		}
	}
	var parsed []azure.AzureRouteTable
	for _, t := range tables {
		rt, err := azure.ParseAzureRouteTable(strings.TrimSpace(t), sub, rg)
		if err != nil {
			return nil, flagErr("azure-route-table", "%v", err)
		}
		parsed = append(parsed, rt)
	}

	// Managed identity on an Azure VM; DefaultAzureCredential also honours
	// the standard AZURE_CLIENT_ID / AZURE_TENANT_ID / ... variables. It
	// makes no network call until the first request.
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: opts.Cloud},
	})
	if err != nil {
		return nil, fmt.Errorf("azure-route: credential: %w", err)
	}
	a, err := azure.NewAzureRoute(azure.AzureRouteConfig{
		Tables:        parsed,
		RouteName:     name,
		NextHop:       hop,
		Credential:    cred,
		ClientOptions: opts,
		PollInterval:  poll,
		Attempts:      attempts,
	}, log, m)
	if err != nil {
		return nil, err
	}
	return []cloud.Action{a}, nil
}

// azureARMOptions builds the SDK client options for --azure-arm-endpoint
// ("" = public Azure). Plain http is accepted only for loopback hosts: the
// bearer token would otherwise cross the network in clear text.
func azureARMOptions(endpoint string) (arm.ClientOptions, error) {
	var opts arm.ClientOptions
	if endpoint == "" {
		return opts, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return opts, flagErr("azure-arm-endpoint", "%q is not an http(s) URL", endpoint)
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return opts, flagErr("azure-arm-endpoint", "%q uses plain http; only loopback addresses may (the bearer token would travel in clear text)", endpoint)
		}
		opts.InsecureAllowCredentialWithHTTP = true
	}
	base := strings.TrimRight(u.String(), "/")
	opts.Cloud = azcloud.Configuration{
		ActiveDirectoryAuthorityHost: azcloud.AzurePublic.ActiveDirectoryAuthorityHost,
		Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
			// The token audience is the endpoint itself, which ARM accepts.
			azcloud.ResourceManager: {Audience: base, Endpoint: base},
		},
	}
	return opts, nil
}
