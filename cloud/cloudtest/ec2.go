package cloudtest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
)

// ec2XMLNS is the namespace EC2 puts on every Query API response.
const ec2XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"

// EC2 is a fake of the Amazon EC2 Query API, limited to the calls lbhc's
// ec2-route and eip actions make. It is written from AWS's public API
// reference (DescribeRouteTables, ReplaceRoute, CreateRoute,
// DescribeNetworkInterfaces, ModifyNetworkInterfaceAttribute,
// DescribeAddresses, AssociateAddress and the "Error codes for the Amazon EC2
// API" page); it is not AWS code and only approximates the real service.
//
// Protocol: POST form-encoded Action=…&Version=…; an AWS SigV4
// Authorization header is required (not verified); answers are XML in the
// EC2 namespace; errors are <Response><Errors><Error><Code>… with HTTP 400
// (client errors), 503 (RequestLimitExceeded, Unavailable) or 500. Faults
// injects throttling, 5xx, slow responses and dropped connections per
// Action.
type EC2 struct {
	Faults AWSFaults

	srv *httptest.Server

	mu     sync.Mutex
	tables map[string]*ec2Table
	enis   map[string]*EC2ENI
	eips   map[string]*EC2Address
	writes []string
	seq    int
}

// EC2Route is one route of a fake route table. Destination is a CIDR (IPv4
// or IPv6); exactly one target field is normally set.
type EC2Route struct {
	Destination        string
	NetworkInterfaceID string
	InstanceID         string
	GatewayID          string // "local" for the VPC's own CIDR
	TransitGatewayID   string
	State              string // "active" (default) or "blackhole"
}

// EC2ENI is a fake network interface.
type EC2ENI struct {
	ID              string
	VPCID           string
	SubnetID        string
	InstanceID      string
	PrivateIPs      []string // first is the primary
	SourceDestCheck bool
}

// EC2Address is a fake Elastic IP.
type EC2Address struct {
	AllocationID       string
	PublicIP           string
	AssociationID      string
	NetworkInterfaceID string
	PrivateIP          string
	InstanceID         string
}

type ec2Table struct {
	id, vpc string
	routes  []EC2Route
}

// NewEC2 starts the fake on a loopback port. Close it when done.
func NewEC2() *EC2 {
	f := &EC2{tables: map[string]*ec2Table{}, enis: map[string]*EC2ENI{}, eips: map[string]*EC2Address{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the endpoint to give the SDK as BaseEndpoint.
func (f *EC2) URL() string { return f.srv.URL }

// Close stops the server.
func (f *EC2) Close() { f.srv.Close() }

// AddRouteTable creates (or replaces) route table id in vpc.
func (f *EC2) AddRouteTable(id, vpc string, routes ...EC2Route) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &ec2Table{id: id, vpc: vpc}
	for _, r := range routes {
		if r.State == "" {
			r.State = "active"
		}
		t.routes = append(t.routes, r)
	}
	f.tables[id] = t
}

// SetRoute creates or overwrites one route out of band, as another tool or
// an operator would.
func (f *EC2) SetRoute(table string, r EC2Route) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[table]
	if r.State == "" {
		r.State = "active"
	}
	for i := range t.routes {
		if ec2SameDest(t.routes[i].Destination, r.Destination) {
			t.routes[i] = r
			return
		}
	}
	t.routes = append(t.routes, r)
}

// DeleteRoute removes a route out of band.
func (f *EC2) DeleteRoute(table, dest string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[table]
	t.routes = slices.DeleteFunc(t.routes, func(r EC2Route) bool { return ec2SameDest(r.Destination, dest) })
}

// Route returns the route for dest in table.
func (f *EC2) Route(table, dest string) (EC2Route, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.tables[table]; t != nil {
		for _, r := range t.routes {
			if ec2SameDest(r.Destination, dest) {
				return r, true
			}
		}
	}
	return EC2Route{}, false
}

// AddENI adds a network interface.
func (f *EC2) AddENI(e EC2ENI) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enis[e.ID] = &e
}

// ENI returns a network interface's current state.
func (f *EC2) ENI(id string) (EC2ENI, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.enis[id]
	if !ok {
		return EC2ENI{}, false
	}
	return *e, true
}

// AddAddress adds an Elastic IP (associated if NetworkInterfaceID is set).
func (f *EC2) AddAddress(a EC2Address) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eips[a.AllocationID] = &a
}

// Address returns an Elastic IP's current state.
func (f *EC2) Address(alloc string) (EC2Address, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.eips[alloc]
	if !ok {
		return EC2Address{}, false
	}
	return *a, true
}

// Writes lists the mutating calls that succeeded, in order, e.g.
// "ReplaceRoute rtb-1 10.9.0.10/32 eni-a".
func (f *EC2) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}
