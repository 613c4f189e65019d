package cloudtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// AzureARM is a fake of the Azure Resource Manager REST API, limited to the
// route-table routes that lbhc's azure-route action uses. It is written from
// Microsoft's public REST API documentation (Routes - Create Or Update / Get,
// and the ARM asynchronous-operation reference); it is not Microsoft code and
// only approximates the real service.
//
// What it implements:
//   - PUT .../routeTables/{rt}/routes/{name}?api-version=…: validates the body,
//     stores the route with provisioningState "Updating" and answers 201
//     (new route) or 200 (existing route) with an Azure-AsyncOperation header.
//   - GET on the Azure-AsyncOperation URL: {"status":"InProgress"} for
//     AsyncPolls polls, then {"status":"Succeeded"} (the route's state becomes
//     "Succeeded"), or {"status":"Failed","error":{…}} when FailNextOperation
//     was called.
//   - GET .../routes/{name}: the route as JSON; 404 with ARM error JSON when
//     the route or table does not exist.
//   - Every request needs "Authorization: Bearer <AzureTestToken>" (401
//     otherwise) and an api-version query parameter (400 otherwise).
//   - Fault injection: InjectFault answers the next matching requests with an
//     error status (429 with Retry-After, 5xx, 409 AnotherOperationInProgress
//     …) or delays them. The fake does not detect concurrent operations by
//     itself.
//
// NewAzureARM serves TLS (httptest), because the SDK refuses to send bearer
// tokens over plain HTTP; give Client() to the SDK client as its Transport.
// NewAzureARMPlain serves plain HTTP.
type AzureARM struct {
	srv *httptest.Server

	mu      sync.Mutex
	tables  map[string]*azureTable // key: lower-case "sub/rg/table"
	ops     map[string]*azureOp
	faults  []AzureFault
	failOp  *AzureError
	reqs    []AzureRequest
	nextOp  int
	etagSeq int

	// AsyncPolls is how many polls of an operation answer InProgress before
	// it succeeds (default 1). Set before use.
	AsyncPolls int
	// AsyncRetryAfter, when > 0, is sent as Retry-After (whole seconds, as
	// ARM does) on the 200/201 of a PUT and on InProgress polls. The SDK then
	// waits that long between polls instead of its own poll interval.
	AsyncRetryAfter time.Duration
}

// AzureTestToken is the only bearer token the fake accepts.
const AzureTestToken = "lbhc-test-token"

// AzureTestCredential is an azcore.TokenCredential that returns
// AzureTestToken; it never contacts Entra ID.
type AzureTestCredential struct{}

// GetToken implements azcore.TokenCredential.
func (AzureTestCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: AzureTestToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// AzureRoute is the state of one route as the fake stores it.
type AzureRoute struct {
	AddressPrefix     string
	NextHopType       string
	NextHopIPAddress  string
	ProvisioningState string // "Updating" while its operation runs, then "Succeeded"
	Etag              string
}

// AzureRequest records one request the fake received.
type AzureRequest struct {
	Method string
	Path   string // URL path, as sent
	Status int    // status the fake answered
}

// AzureError is the body of an ARM error response.
type AzureError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// AzureFault makes the fake answer the next Count requests that match Method
// and Kind with Status and Error instead of serving them. Delay, when set, is
// waited first (a slow response); with Status 0 the request is then served
// normally.
type AzureFault struct {
	Method     string // "GET", "PUT", or "" for any
	Kind       string // "route", "operation", or "" for any
	Count      int
	Status     int
	Error      AzureError
	RetryAfter time.Duration // sent as Retry-After in whole seconds when > 0
	Delay      time.Duration
}

type azureTable struct {
	sub, rg, name string // as created (case preserved)
	location      string
	routes        map[string]*AzureRoute // key: lower-case route name
	routeNames    map[string]string      // lower-case → as created
}

type azureOp struct {
	polls    int
	tableKey string
	route    string // lower-case route name
	failed   *AzureError
	done     bool
}

// NewAzureARM starts the fake with TLS on 127.0.0.1; callers stop it with
// Close (t.Cleanup(f.Close)).
func NewAzureARM() *AzureARM {
	f := newAzureARM()
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	return f
}

// NewAzureARMPlain starts the fake with plain HTTP on 127.0.0.1, for tests
// that drive lbhc's flag wiring (which allows http to loopback only) and
// cannot install the test certificate.
func NewAzureARMPlain() *AzureARM {
	f := newAzureARM()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func newAzureARM() *AzureARM {
	return &AzureARM{
		tables:     map[string]*azureTable{},
		ops:        map[string]*azureOp{},
		AsyncPolls: 1,
	}
}

// URL is the base URL to use as the ARM endpoint (https://127.0.0.1:port).
func (f *AzureARM) URL() string { return f.srv.URL }

// Client returns an *http.Client that trusts the fake's certificate (if
// any).
func (f *AzureARM) Client() *http.Client { return f.srv.Client() }

// Close stops the server.
func (f *AzureARM) Close() { f.srv.Close() }

// AddRouteTable creates an empty route table.
func (f *AzureARM) AddRouteTable(sub, rg, name, location string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tables[azureKey(sub, rg, name)] = &azureTable{
		sub: sub, rg: rg, name: name, location: location,
		routes: map[string]*AzureRoute{}, routeNames: map[string]string{},
	}
}

// SetRoute writes a route directly, as another actor (the portal, another
// node) would: it is stored in state Succeeded. It panics if the table does
// not exist, which is a bug in the test.
func (f *AzureARM) SetRoute(sub, rg, table, name string, r AzureRoute) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[azureKey(sub, rg, table)]
	if t == nil {
		panic("cloudtest: SetRoute on unknown route table " + table)
	}
	if r.ProvisioningState == "" {
		r.ProvisioningState = "Succeeded"
	}
	f.etagSeq++
	r.Etag = fmt.Sprintf(`W/"%08d-0000-0000-0000-000000000000"`, f.etagSeq)
	t.routes[strings.ToLower(name)] = &r
	t.routeNames[strings.ToLower(name)] = name
}

// Route returns a copy of a stored route.
func (f *AzureARM) Route(sub, rg, table, name string) (AzureRoute, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[azureKey(sub, rg, table)]
	if t == nil {
		return AzureRoute{}, false
	}
	r := t.routes[strings.ToLower(name)]
	if r == nil {
		return AzureRoute{}, false
	}
	return *r, true
}

// InjectFault queues a fault; faults are consumed in the order queued.
func (f *AzureARM) InjectFault(ft AzureFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, ft)
}

// FailNextOperation makes the next PUT's asynchronous operation end in
// status Failed with e (the route's provisioningState becomes "Failed").
func (f *AzureARM) FailNextOperation(e AzureError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failOp = &e
}

// Requests returns the requests served so far.
func (f *AzureARM) Requests() []AzureRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AzureRequest(nil), f.reqs...)
}

// Count returns how many requests with method reached a route URL (not an
// operation URL), whatever the answer.
func (f *AzureARM) Count(method string) int {
	n := 0
	for _, r := range f.Requests() {
		if r.Method == method && strings.Contains(r.Path, "/routes/") {
			n++
		}
	}
	return n
}

func azureKey(sub, rg, table string) string {
	return strings.ToLower(sub + "/" + rg + "/" + table)
}

func (f *AzureARM) serve(w http.ResponseWriter, r *http.Request) {
	kind := "route"
	if strings.Contains(r.URL.Path, "/operations/") {
		kind = "operation"
	}
	status := f.serveInner(w, r, kind)
	f.mu.Lock()
	f.reqs = append(f.reqs, AzureRequest{Method: r.Method, Path: r.URL.Path, Status: status})
	f.mu.Unlock()
}

func (f *AzureARM) takeFault(method, kind string) (AzureFault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.faults {
		ft := &f.faults[i]
		if ft.Count <= 0 || (ft.Method != "" && ft.Method != method) || (ft.Kind != "" && ft.Kind != kind) {
			continue
		}
		ft.Count--
		out := *ft
		if ft.Count == 0 {
			f.faults = append(f.faults[:i], f.faults[i+1:]...)
		}
		return out, true
	}
	return AzureFault{}, false
}

func azureWriteError(w http.ResponseWriter, status int, code, msg string) int {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-failure-cause", "gateway")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]AzureError{"error": {Code: code, Message: msg}})
	return status
}

func azureRetryAfterSeconds(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(s)
}

func (f *AzureARM) serveInner(w http.ResponseWriter, r *http.Request, kind string) int {
	if ft, ok := f.takeFault(r.Method, kind); ok {
		if ft.Delay > 0 {
			select {
			case <-time.After(ft.Delay):
			case <-r.Context().Done():
				return 499 // client went away; nothing is written
			}
		}
		if ft.Status != 0 {
			if ft.RetryAfter > 0 {
				w.Header().Set("Retry-After", azureRetryAfterSeconds(ft.RetryAfter))
			}
			return azureWriteError(w, ft.Status, ft.Error.Code, ft.Error.Message)
		}
	}
	if r.Header.Get("Authorization") != "Bearer "+AzureTestToken {
		return azureWriteError(w, http.StatusUnauthorized, "AuthenticationFailed",
			"Authentication failed. The 'Authorization' header is missing or has an invalid value.")
	}
	if r.URL.Query().Get("api-version") == "" {
		return azureWriteError(w, http.StatusBadRequest, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests.")
	}
	if kind == "operation" {
		return f.serveOperation(w, r)
	}
	return f.serveRoute(w, r)
}

// azureParseRoutePath splits
// /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/routeTables/{rt}/routes/{name}.
func azureParseRoutePath(p string) (sub, rg, table, route string, ok bool) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if len(parts) != 10 ||
		!strings.EqualFold(parts[0], "subscriptions") ||
		!strings.EqualFold(parts[2], "resourceGroups") ||
		!strings.EqualFold(parts[4], "providers") ||
		!strings.EqualFold(parts[5], "Microsoft.Network") ||
		!strings.EqualFold(parts[6], "routeTables") ||
		!strings.EqualFold(parts[8], "routes") {
		return "", "", "", "", false
	}
	return parts[1], parts[3], parts[7], parts[9], true
}

type azureRouteJSON struct {
	ID         string              `json:"id,omitempty"`
	Name       string              `json:"name,omitempty"`
	Etag       string              `json:"etag,omitempty"`
	Type       string              `json:"type,omitempty"`
	Properties azureRoutePropsJSON `json:"properties"`
}

type azureRoutePropsJSON struct {
	ProvisioningState string `json:"provisioningState,omitempty"`
	AddressPrefix     string `json:"addressPrefix,omitempty"`
	NextHopType       string `json:"nextHopType,omitempty"`
	NextHopIPAddress  string `json:"nextHopIpAddress,omitempty"`
	HasBgpOverride    *bool  `json:"hasBgpOverride,omitempty"`
}

func (f *AzureARM) routeJSON(t *azureTable, lname string) azureRouteJSON {
	r := t.routes[lname]
	name := t.routeNames[lname]
	no := false
	return azureRouteJSON{
		ID: "/subscriptions/" + t.sub + "/resourceGroups/" + t.rg +
			"/providers/Microsoft.Network/routeTables/" + t.name + "/routes/" + name,
		Name: name,
		Etag: r.Etag,
		Type: "Microsoft.Network/routeTables/routes",
		Properties: azureRoutePropsJSON{
			ProvisioningState: r.ProvisioningState,
			AddressPrefix:     r.AddressPrefix,
			NextHopType:       r.NextHopType,
			NextHopIPAddress:  r.NextHopIPAddress,
			HasBgpOverride:    &no,
		},
	}
}

var azureNextHopTypes = []string{"VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None"}

func (f *AzureARM) serveRoute(w http.ResponseWriter, r *http.Request) int {
	sub, rg, table, route, ok := azureParseRoutePath(r.URL.Path)
	if !ok {
		return azureWriteError(w, http.StatusNotFound, "InvalidResourceType",
			"The resource type could not be found in the namespace for api version.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[azureKey(sub, rg, table)]
	if t == nil {
		return azureWriteError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf(
			"The Resource 'Microsoft.Network/routeTables/%s' under resource group '%s' was not found.", table, rg))
	}
	lname := strings.ToLower(route)
	switch r.Method {
	case http.MethodGet:
		if t.routes[lname] == nil {
			return azureWriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf(
				"Resource %s not found.", r.URL.Path))
		}
		return azureWriteJSON(w, http.StatusOK, f.routeJSON(t, lname), nil)
	case http.MethodPut:
		var body azureRouteJSON
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			return azureWriteError(w, http.StatusBadRequest, "InvalidRequestFormat",
				"Cannot parse the request: "+err.Error())
		}
		p := body.Properties
		if _, err := netip.ParsePrefix(p.AddressPrefix); err != nil {
			return azureWriteError(w, http.StatusBadRequest, "InvalidRouteAddressPrefix", fmt.Sprintf(
				"Route %s has an invalid AddressPrefix %s.", route, p.AddressPrefix))
		}
		validType := false
		for _, v := range azureNextHopTypes {
			validType = validType || v == p.NextHopType
		}
		if !validType {
			return azureWriteError(w, http.StatusBadRequest, "InvalidRequestFormat", fmt.Sprintf(
				"Cannot parse the request: invalid nextHopType %q.", p.NextHopType))
		}
		if p.NextHopType == "VirtualAppliance" {
			if _, err := netip.ParseAddr(p.NextHopIPAddress); err != nil {
				return azureWriteError(w, http.StatusBadRequest, "InvalidRouteNextHopIpAddress", fmt.Sprintf(
					"Route %s has an invalid next hop IP address %s.", route, p.NextHopIPAddress))
			}
		} else if p.NextHopIPAddress != "" {
			return azureWriteError(w, http.StatusBadRequest, "NextHopIpAddressNotAllowed", fmt.Sprintf(
				"Route %s: next hop IP address is allowed only with next hop type VirtualAppliance.", route))
		}
		status := http.StatusOK
		if t.routes[lname] == nil {
			status = http.StatusCreated
			t.routeNames[lname] = route
		}
		f.etagSeq++
		t.routes[lname] = &AzureRoute{
			AddressPrefix:     p.AddressPrefix,
			NextHopType:       p.NextHopType,
			NextHopIPAddress:  p.NextHopIPAddress,
			ProvisioningState: "Updating",
			Etag:              fmt.Sprintf(`W/"%08d-0000-0000-0000-000000000000"`, f.etagSeq),
		}
		f.nextOp++
		id := fmt.Sprintf("%08d-1111-2222-3333-444444444444", f.nextOp)
		f.ops[id] = &azureOp{tableKey: azureKey(sub, rg, table), route: lname, failed: f.failOp}
		f.failOp = nil
		hdr := http.Header{}
		scheme := "https"
		if r.TLS == nil {
			scheme = "http"
		}
		hdr.Set("Azure-AsyncOperation", fmt.Sprintf(
			"%s://%s/subscriptions/%s/providers/Microsoft.Network/locations/%s/operations/%s?api-version=%s",
			scheme, r.Host, sub, t.location, id, r.URL.Query().Get("api-version")))
		if f.AsyncRetryAfter > 0 {
			hdr.Set("Retry-After", azureRetryAfterSeconds(f.AsyncRetryAfter))
		}
		return azureWriteJSON(w, status, f.routeJSON(t, lname), hdr)
	default:
		return azureWriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The requested method is not allowed for this resource.")
	}
}

func (f *AzureARM) serveOperation(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet {
		return azureWriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The requested method is not allowed for this resource.")
	}
	id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	op := f.ops[id]
	if op == nil {
		return azureWriteError(w, http.StatusNotFound, "OperationNotFound",
			"The operation '"+id+"' could not be found.")
	}
	if op.polls < f.AsyncPolls && !op.done {
		op.polls++
		hdr := http.Header{}
		if f.AsyncRetryAfter > 0 {
			hdr.Set("Retry-After", azureRetryAfterSeconds(f.AsyncRetryAfter))
		}
		return azureWriteJSON(w, http.StatusOK, map[string]string{"status": "InProgress"}, hdr)
	}
	if !op.done {
		op.done = true
		if t := f.tables[op.tableKey]; t != nil && t.routes[op.route] != nil {
			if op.failed != nil {
				t.routes[op.route].ProvisioningState = "Failed"
			} else {
				t.routes[op.route].ProvisioningState = "Succeeded"
			}
		}
	}
	if op.failed != nil {
		return azureWriteJSON(w, http.StatusOK, map[string]any{"status": "Failed", "error": op.failed}, nil)
	}
	return azureWriteJSON(w, http.StatusOK, map[string]string{"status": "Succeeded"}, nil)
}

func azureWriteJSON(w http.ResponseWriter, status int, v any, hdr http.Header) int {
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}
