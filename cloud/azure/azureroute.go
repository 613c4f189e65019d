package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/lbhc/lbhc/cloud"
)

// AzureRouteActionName is the azure-route action's name in logs, metrics
// and /status.
const AzureRouteActionName = "azure-route"

// AzureRouteConfig configures the azure-route action.
type AzureRouteConfig struct {
	Tables []AzureRouteTable // at least one
	// RouteName is a template (see AzureRouteName); "" → "lbhc-{vip}". A
	// name without "{vip}" is only valid while there is one VIP.
	RouteName string
	// NextHop is this node's private IP, the VirtualAppliance next hop.
	NextHop    netip.Addr
	Credential azcore.TokenCredential
	// ClientOptions configures the SDK pipeline: Cloud for sovereign clouds
	// or a test endpoint, Transport for tests. Retry defaults set here are
	// kept; lbhc adds a policy that blocks writes once Event.Valid is false.
	ClientOptions arm.ClientOptions
	// PollInterval is the wait between polls of a long-running operation
	// when the service sends no Retry-After (default 2 s; the SDK requires
	// at least 1 s outside tests).
	PollInterval time.Duration
	// Attempts is how often Promote tries one route before it fails
	// (default 3). Transient errors within one attempt (429, 5xx, network)
	// are already retried by the SDK's retry policy.
	Attempts int
	// Backoff is the wait before the second attempt, doubled after each
	// (default 2 s).
	Backoff time.Duration
}

// AzureRoute points route VIP/32 (VIP/128) with next hop type
// VirtualAppliance at this node's private IP in every configured route
// table. It reads each route first and writes only when it differs, waits
// for the long-running operation, then reads the route again to verify.
type AzureRoute struct {
	cfg     AzureRouteConfig
	clients map[string]*azureRoutes // by subscription ID
	log     *slog.Logger
	m       *cloud.Metrics
	st      *cloud.StatusBox
}

// NewAzureRoute builds the action; it makes no network calls.
func NewAzureRoute(cfg AzureRouteConfig, log *slog.Logger, m *cloud.Metrics) (*AzureRoute, error) {
	if len(cfg.Tables) == 0 {
		return nil, errors.New("azure-route: no route table configured")
	}
	if !cfg.NextHop.IsValid() {
		return nil, errors.New("azure-route: no next-hop private IP configured")
	}
	if cfg.Credential == nil {
		return nil, errors.New("azure-route: no credential configured")
	}
	if _, err := AzureRouteName(cfg.RouteName, cfg.NextHop); err != nil {
		return nil, fmt.Errorf("azure-route: route name: %w", err)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := cfg.ClientOptions
	if opts.Retry.MaxRetries == 0 {
		opts.Retry.MaxRetries = 4
	}
	if opts.Retry.TryTimeout == 0 {
		// One ARM request normally answers within a second; 20 s bounds a
		// hung connection so the retry policy can try again.
		opts.Retry.TryTimeout = 20 * time.Second
	}
	opts.PerRetryPolicies = append(append([]policy.Policy(nil), opts.PerRetryPolicies...), azureValidPolicy{})
	a := &AzureRoute{
		cfg:     cfg,
		clients: map[string]*azureRoutes{},
		log:     log.With("action", AzureRouteActionName),
		m:       m,
		st:      cloud.NewStatusBox(AzureRouteActionName),
	}
	for _, t := range cfg.Tables {
		key := strings.ToLower(t.SubscriptionID)
		if a.clients[key] != nil {
			continue
		}
		c, err := armnetwork.NewRoutesClient(t.SubscriptionID, cfg.Credential, &opts)
		if err != nil {
			return nil, fmt.Errorf("azure-route: %w", err)
		}
		a.clients[key] = &azureRoutes{get: c.Get, beginCreateOrUpdate: c.BeginCreateOrUpdate}
	}
	m.Init(AzureRouteActionName)
	return a, nil
}

// azureRoutes holds method values of the two RoutesClient operations the
// action calls, not the client: AzureRoute is held in an interface, and a
// client field would make the linker keep all of the client's operations
// (see awsclient.go).
type azureRoutes struct {
	get                 func(ctx context.Context, resourceGroup, table, route string, o *armnetwork.RoutesClientGetOptions) (armnetwork.RoutesClientGetResponse, error)
	beginCreateOrUpdate func(ctx context.Context, resourceGroup, table, route string, r armnetwork.Route, o *armnetwork.RoutesClientBeginCreateOrUpdateOptions) (*runtime.Poller[armnetwork.RoutesClientCreateOrUpdateResponse], error)
}

// Name implements Action.
func (a *AzureRoute) Name() string { return AzureRouteActionName }

// Status implements Action.
func (a *AzureRoute) Status() cloud.Status { return a.st.Get() }

func (a *AzureRoute) shell() cloud.Shell {
	return cloud.Shell{Name: AzureRouteActionName, What: "azure routes", Prefix: AzureRouteActionName, Log: a.log, M: a.m, St: a.st}
}

// azureTarget is one route in one table.
type azureTarget struct {
	table  AzureRouteTable
	name   string
	prefix string // "10.0.0.5/32"
}

func (t azureTarget) String() string { return t.table.Name + "/" + t.name }

func (a *AzureRoute) targets(vips []netip.Prefix) ([]azureTarget, error) {
	if len(vips) > 1 && a.cfg.RouteName != "" && !strings.Contains(a.cfg.RouteName, azureVIPToken) {
		return nil, fmt.Errorf("route name %q has no %s placeholder but there are %d VIPs", a.cfg.RouteName, azureVIPToken, len(vips))
	}
	var out []azureTarget
	for _, v := range vips {
		addr := v.Addr().Unmap()
		if addr.Is4() != a.cfg.NextHop.Is4() {
			return nil, fmt.Errorf("VIP %s and next hop %s are of different address families", addr, a.cfg.NextHop)
		}
		name, err := AzureRouteName(a.cfg.RouteName, addr)
		if err != nil {
			return nil, err
		}
		host := netip.PrefixFrom(addr, addr.BitLen()).String()
		for _, t := range a.cfg.Tables {
			out = append(out, azureTarget{table: t, name: name, prefix: host})
		}
	}
	return out, nil
}

// Promote implements Action: every route is tried up to cfg.Attempts times.
func (a *AzureRoute) Promote(ctx context.Context, ev cloud.Event) error {
	return a.shell().Promote(ctx, ev, a.ensureAll(a.cfg.Attempts))
}

// Monitor implements Action: one read per route; a route that drifted is
// rewritten with one attempt (the next monitor pass tries again).
func (a *AzureRoute) Monitor(ctx context.Context, ev cloud.Event) (bool, error) {
	return a.shell().Monitor(ctx, ev, a.ensureAll(1))
}

// Demote implements Action. Routes are left in place: the next leader
// overwrites them, and deleting them would black-hole the VIP until then.
func (a *AzureRoute) Demote(ctx context.Context, ev cloud.Event) error { return a.shell().Demote() }

// ensureAll makes every route of ev's VIPs in every table point at this
// node, trying each route up to attempts times; it stops at the first route
// that fails.
func (a *AzureRoute) ensureAll(attempts int) cloud.EnsureFunc {
	return func(ctx context.Context, ev cloud.Event, log *slog.Logger) (bool, string, error) {
		targets, err := a.targets(ev.VIPs)
		if err != nil {
			return false, "", err
		}
		written := 0
		detail := func() string {
			return fmt.Sprintf("%d route(s) → %s (%d written)", len(targets), a.cfg.NextHop, written)
		}
		for _, t := range targets {
			wrote, err := a.ensure(ctx, log, ev, t, attempts)
			if wrote {
				written++
			}
			if err != nil {
				return written > 0, detail(), fmt.Errorf("%s: %w", t, err)
			}
		}
		return written > 0, detail(), nil
	}
}

// ensure makes one route right, trying up to attempts times; wrote reports
// whether it had to write.
func (a *AzureRoute) ensure(ctx context.Context, log *slog.Logger, ev cloud.Event, t azureTarget, attempts int) (wrote bool, err error) {
	backoff := a.cfg.Backoff
	for i := 0; i < attempts; i++ {
		if i > 0 {
			log.Warn("azure route attempt failed; retrying", "route", t.String(), "attempt", i, "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
				backoff *= 2
			case <-ctx.Done():
				return wrote, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
			}
		}
		var w bool
		w, err = a.ensureOnce(ctx, log, ev, t)
		wrote = wrote || w
		if err == nil || !azureRetriable(err) || ctx.Err() != nil {
			return wrote, err
		}
	}
	return wrote, err
}

func (a *AzureRoute) ensureOnce(ctx context.Context, log *slog.Logger, ev cloud.Event, t azureTarget) (wrote bool, err error) {
	client := a.clients[strings.ToLower(t.table.SubscriptionID)]
	cur, err := a.get(ctx, client, t)
	if err != nil {
		return false, err
	}
	if cur != nil {
		why := a.mismatch(*cur, t.prefix)
		if why == "" {
			log.Debug("azure route already right", "route", t.String())
			return false, nil
		}
		log.Info("azure route differs; writing", "route", t.String(), "found", why)
	} else {
		log.Info("azure route missing; creating", "route", t.String())
	}
	if ev.Valid != nil && !ev.Valid() {
		return false, cloud.ErrNotLeader
	}
	hop := armnetwork.RouteNextHopTypeVirtualAppliance
	route := armnetwork.Route{Properties: &armnetwork.RoutePropertiesFormat{
		AddressPrefix:    &t.prefix,
		NextHopType:      &hop,
		NextHopIPAddress: new(a.cfg.NextHop.String()),
	}}
	wctx := context.WithValue(ctx, azureValidKey{}, ev.Valid)
	poller, err := client.beginCreateOrUpdate(wctx, t.table.ResourceGroup, t.table.Name, t.name, route, nil)
	if err != nil {
		return false, fmt.Errorf("create or update: %w", err)
	}
	if _, err := poller.PollUntilDone(wctx, &runtime.PollUntilDoneOptions{Frequency: a.cfg.PollInterval}); err != nil {
		return true, fmt.Errorf("waiting for create or update: %w", err)
	}
	cur, err = a.get(ctx, client, t)
	if err != nil {
		return true, fmt.Errorf("verify: %w", err)
	}
	if cur == nil {
		return true, errAzureVerify("route not found after it was written")
	}
	if why := a.mismatch(*cur, t.prefix); why != "" {
		return true, errAzureVerify("route is " + why + " after it was written")
	}
	log.Info("azure route written and verified", "route", t.String(), "prefix", t.prefix, "next_hop", a.cfg.NextHop.String())
	return true, nil
}

// errAzureVerify is a verification mismatch: someone else may have written
// in between, so it is worth another attempt.
type errAzureVerify string

func (e errAzureVerify) Error() string { return "verify: " + string(e) }

// get reads route t; nil (and no error) when it does not exist.
func (a *AzureRoute) get(ctx context.Context, client *azureRoutes, t azureTarget) (*armnetwork.Route, error) {
	resp, err := client.get(ctx, t.table.ResourceGroup, t.table.Name, t.name, nil)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			// The route (or its table) does not exist; a missing table
			// makes the following PUT fail with a clear 404.
			return nil, nil
		}
		return nil, fmt.Errorf("get: %w", err)
	}
	return &resp.Route, nil
}

// mismatch describes how r differs from the route this node wants for
// wantPrefix ("" if right).
// A route still "Updating" or "Failed" counts as wrong.
func (a *AzureRoute) mismatch(r armnetwork.Route, wantPrefix string) string {
	p := r.Properties
	if p == nil {
		return "without properties"
	}
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	hopType := ""
	if p.NextHopType != nil {
		hopType = string(*p.NextHopType)
	}
	state := ""
	if p.ProvisioningState != nil {
		state = string(*p.ProvisioningState)
	}
	prefix, err := netip.ParsePrefix(str(p.AddressPrefix))
	want, err3 := netip.ParsePrefix(wantPrefix)
	hop, err2 := netip.ParseAddr(str(p.NextHopIPAddress))
	// The route must cover exactly this VIP: a route renamed onto another
	// host prefix is drift too.
	right := err == nil && err2 == nil && err3 == nil && prefix == want &&
		hopType == string(armnetwork.RouteNextHopTypeVirtualAppliance) &&
		hop == a.cfg.NextHop &&
		(state == "" || state == string(armnetwork.ProvisioningStateSucceeded))
	if right {
		return ""
	}
	return fmt.Sprintf("%s via %s %s (state %s)", str(p.AddressPrefix), hopType, str(p.NextHopIPAddress), state)
}
