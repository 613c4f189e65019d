package cloudtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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
