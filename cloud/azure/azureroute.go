package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
)

// AzureRouteActionName is the azure-route action's name in logs, metrics
// and /status.
const AzureRouteActionName = "azure-route"

// AzureRouteTable identifies one route table.
type AzureRouteTable struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
}

// ID is the table's full resource ID.
func (t AzureRouteTable) ID() string {
	return "/subscriptions/" + t.SubscriptionID + "/resourceGroups/" + t.ResourceGroup +
		"/providers/Microsoft.Network/routeTables/" + t.Name
}

// ParseAzureRouteTable accepts a full route-table resource ID
// (/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/routeTables/{name})
// or a bare table name, which is looked up in defSub/defRG (this VM's
// subscription and resource group); a bare name with empty defaults is an
// error.
func ParseAzureRouteTable(s, defSub, defRG string) (AzureRouteTable, error) {
	if s == "" {
		return AzureRouteTable{}, errors.New("empty route table")
	}
	if !strings.Contains(s, "/") {
		if defSub == "" || defRG == "" {
			return AzureRouteTable{}, fmt.Errorf("route table %q is a bare name but the subscription and resource group are unknown; give the full resource ID", s)
		}
		if err := azureCheckName(s); err != nil {
			return AzureRouteTable{}, fmt.Errorf("route table %q: %w", s, err)
		}
		return AzureRouteTable{SubscriptionID: defSub, ResourceGroup: defRG, Name: s}, nil
	}
	parts := strings.Split(strings.Trim(s, "/"), "/")
	if !strings.HasPrefix(s, "/") || len(parts) != 8 ||
		!strings.EqualFold(parts[0], "subscriptions") ||
		!strings.EqualFold(parts[2], "resourceGroups") ||
		!strings.EqualFold(parts[4], "providers") {
		return AzureRouteTable{}, fmt.Errorf("route table %q is not a resource ID of the form /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Network/routeTables/{name}", s)
	}
	if !strings.EqualFold(parts[5], "Microsoft.Network") || !strings.EqualFold(parts[6], "routeTables") {
		return AzureRouteTable{}, fmt.Errorf("route table %q has resource type %s/%s, want Microsoft.Network/routeTables", s, parts[5], parts[6])
	}
	for _, p := range []string{parts[1], parts[3], parts[7]} {
		if p == "" {
			return AzureRouteTable{}, fmt.Errorf("route table %q has an empty path segment", s)
		}
	}
	if err := azureCheckName(parts[7]); err != nil {
		return AzureRouteTable{}, fmt.Errorf("route table %q: %w", s, err)
	}
	return AzureRouteTable{SubscriptionID: parts[1], ResourceGroup: parts[3], Name: parts[7]}, nil
}

// azureCheckName applies Azure's naming rule for route tables and routes:
// 1–80 characters of letters, digits, '_', '.', '-'; starting with a letter
// or digit; ending with a letter, digit or '_'.
func azureCheckName(n string) error {
	if n == "" || len(n) > 80 {
		return fmt.Errorf("name %q must be 1 to 80 characters long", n)
	}
	for _, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
		if !ok {
			return fmt.Errorf("name %q contains %q; only letters, digits, '_', '.' and '-' are allowed", n, r)
		}
	}
	first, last := n[0], n[len(n)-1]
	if first == '_' || first == '.' || first == '-' {
		return fmt.Errorf("name %q must start with a letter or digit", n)
	}
	if last == '.' || last == '-' {
		return fmt.Errorf("name %q must end with a letter, digit or '_'", n)
	}
	return nil
}

// azureVIPToken is the placeholder in a route-name template that is replaced
// with the VIP in name form (10-0-0-5-32).
const azureVIPToken = "{vip}"

// AzureRouteName is the route name for vip (a host address): template with
// "{vip}" replaced by the address and prefix length with separators turned
// into '-', e.g. "lbhc-{vip}" and 10.0.0.5 → "lbhc-10-0-0-5-32". An empty
// template means "lbhc-{vip}"; a template without "{vip}" is used verbatim.
func AzureRouteName(template string, vip netip.Addr) (string, error) {
	if template == "" {
		template = "lbhc-" + azureVIPToken
	}
	form := strings.NewReplacer(".", "-", ":", "-").Replace(vip.WithZone("").String()) +
		fmt.Sprintf("-%d", vip.BitLen())
	name := strings.ReplaceAll(template, azureVIPToken, form)
	if err := azureCheckName(name); err != nil {
		return "", err
	}
	return name, nil
}

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
	m       *Metrics

	mu     sync.Mutex
	status Status
}

// NewAzureRoute builds the action; it makes no network calls.
func NewAzureRoute(cfg AzureRouteConfig, log *slog.Logger, m *Metrics) (*AzureRoute, error) {
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
		status:  Status{Name: AzureRouteActionName, State: "idle"},
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
func (a *AzureRoute) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

func (a *AzureRoute) setStatus(state, detail string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status.State = state
	a.status.Detail = detail
	if err != nil {
		a.status.LastError = err.Error()
	} else {
		a.status.LastError = ""
		a.status.LastVerified = time.Now()
	}
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

// Promote implements Action.
func (a *AzureRoute) Promote(ctx context.Context, ev Event) (err error) {
	done := a.m.Track(AzureRouteActionName, OpPromote)
	defer func() { done(err) }()
	log := a.log.With("term", ev.Term)
	targets, err := a.targets(ev.VIPs)
	if err != nil {
		err = fmt.Errorf("azure-route: %w", err)
		a.fail(log, err)
		return err
	}
	written := 0
	for _, t := range targets {
		wrote, err := a.ensure(ctx, log, ev, t, a.cfg.Attempts)
		if err != nil {
			err = fmt.Errorf("azure-route: %s: %w", t, err)
			a.fail(log, err)
			return err
		}
		if wrote {
			written++
		}
	}
	detail := fmt.Sprintf("%d route(s) → %s (%d written)", len(targets), a.cfg.NextHop, written)
	a.setStatus("ok", detail, nil)
	a.m.SetVerified(AzureRouteActionName, true)
	log.Info("azure routes point at this node", "routes", len(targets), "written", written, "next_hop", a.cfg.NextHop.String())
	return nil
}

// Monitor implements Action: one read per route; a route that drifted is
// rewritten (one attempt; the next monitor round tries again).
func (a *AzureRoute) Monitor(ctx context.Context, ev Event) (repaired bool, err error) {
	done := a.m.Track(AzureRouteActionName, OpMonitor)
	defer func() { done(err) }()
	log := a.log.With("term", ev.Term)
	targets, err := a.targets(ev.VIPs)
	if err != nil {
		err = fmt.Errorf("azure-route: %w", err)
		a.fail(log, err)
		return false, err
	}
	fixed := 0
	for _, t := range targets {
		wrote, err := a.ensure(ctx, log, ev, t, 1)
		if err != nil {
			err = fmt.Errorf("azure-route: %s: %w", t, err)
			a.fail(log, err)
			return fixed > 0, err
		}
		if wrote {
			fixed++
			a.m.Repair(AzureRouteActionName)
		}
	}
	a.m.SetVerified(AzureRouteActionName, true)
	if fixed > 0 {
		a.setStatus("repaired", fmt.Sprintf("%d of %d route(s) repaired → %s", fixed, len(targets), a.cfg.NextHop), nil)
		log.Warn("azure routes repaired", "repaired", fixed, "routes", len(targets))
		return true, nil
	}
	a.setStatus("ok", fmt.Sprintf("%d route(s) → %s", len(targets), a.cfg.NextHop), nil)
	return false, nil
}

// Demote implements Action. Routes are left in place: the next leader
// overwrites them, and deleting them would black-hole the VIP until then.
func (a *AzureRoute) Demote(ctx context.Context, ev Event) error {
	a.setStatus("idle", "not leading", nil)
	a.m.SetVerified(AzureRouteActionName, false)
	return nil
}

func (a *AzureRoute) fail(log *slog.Logger, err error) {
	a.setStatus("failed", "", err)
	a.m.SetVerified(AzureRouteActionName, false)
	log.Error("azure-route failed", "err", err)
}

// ensure makes one route right, trying up to attempts times; wrote reports
// whether it had to write.
func (a *AzureRoute) ensure(ctx context.Context, log *slog.Logger, ev Event, t azureTarget, attempts int) (wrote bool, err error) {
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

func (a *AzureRoute) ensureOnce(ctx context.Context, log *slog.Logger, ev Event, t azureTarget) (wrote bool, err error) {
	client := a.clients[strings.ToLower(t.table.SubscriptionID)]
	cur, found, err := a.get(ctx, client, t)
	if err != nil {
		return false, err
	}
	if found {
		why := a.mismatch(cur, t.prefix)
		if why == "" {
			log.Debug("azure route already right", "route", t.String())
			return false, nil
		}
		log.Info("azure route differs; writing", "route", t.String(), "found", why)
	} else {
		log.Info("azure route missing; creating", "route", t.String())
	}
	if ev.Valid != nil && !ev.Valid() {
		return false, ErrNotLeader
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
	cur, found, err = a.get(ctx, client, t)
	if err != nil {
		return true, fmt.Errorf("verify: %w", err)
	}
	if !found {
		return true, errAzureVerify("route not found after it was written")
	}
	if why := a.mismatch(cur, t.prefix); why != "" {
		return true, errAzureVerify("route is " + why + " after it was written")
	}
	log.Info("azure route written and verified", "route", t.String(), "prefix", t.prefix, "next_hop", a.cfg.NextHop.String())
	return true, nil
}

// errAzureVerify is a verification mismatch: someone else may have written
// in between, so it is worth another attempt.
type errAzureVerify string

func (e errAzureVerify) Error() string { return "verify: " + string(e) }

func (a *AzureRoute) get(ctx context.Context, client *azureRoutes, t azureTarget) (armnetwork.Route, bool, error) {
	resp, err := client.get(ctx, t.table.ResourceGroup, t.table.Name, t.name, nil)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			// The route (or its table) does not exist; a missing table
			// makes the following PUT fail with a clear 404.
			return armnetwork.Route{}, false, nil
		}
		return armnetwork.Route{}, false, fmt.Errorf("get: %w", err)
	}
	return resp.Route, true, nil
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

// azureRetriable reports whether another attempt may succeed.
func azureRetriable(err error) bool {
	if errors.Is(err, ErrNotLeader) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusConflict, // AnotherOperationInProgress
			re.StatusCode == http.StatusTooManyRequests,
			re.StatusCode == http.StatusRequestTimeout,
			re.StatusCode >= 500:
			return true
		case re.StatusCode >= 400:
			// Bad request, no permission, table not found: retrying
			// cannot help. A failed LRO (status 200 with state Failed)
			// falls through and is retried.
			return false
		}
	}
	return true // network errors, failed operations, verify mismatches
}

// azureValidKey carries Event.Valid (func() bool) in a request context.
type azureValidKey struct{}

// azureValidPolicy refuses every try of a mutating request once the
// leadership deadline has passed, so the SDK's own retries (after a 429 or
// 5xx) never write for a node that has stopped leading.
type azureValidPolicy struct{}

func (azureValidPolicy) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Method != http.MethodGet {
		if valid, _ := req.Raw().Context().Value(azureValidKey{}).(func() bool); valid != nil && !valid() {
			return nil, azureNotLeaderError{}
		}
	}
	return req.Next()
}

// azureNotLeaderError is ErrNotLeader marked non-retriable for the SDK's
// retry policy (which looks for a NonRetriable method).
type azureNotLeaderError struct{}

func (azureNotLeaderError) Error() string { return ErrNotLeader.Error() }
func (azureNotLeaderError) Unwrap() error { return ErrNotLeader }
func (azureNotLeaderError) NonRetriable() {}
