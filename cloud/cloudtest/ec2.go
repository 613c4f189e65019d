package cloudtest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
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

// ec2Error is the EC2 error document.
type ec2Error struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

type ec2Err struct {
	status        int
	code, message string
}

func (e *ec2Err) Error() string { return e.code + ": " + e.message }

func ec2Fail(status int, code, format string, args ...any) *ec2Err {
	return &ec2Err{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func (f *EC2) requestID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", f.seq)
}

func (f *EC2) serve(w http.ResponseWriter, r *http.Request) {
	reqID := f.requestID()
	writeErr := func(e *ec2Err) {
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(e.status)
		b, _ := xml.Marshal(ec2Error{Code: e.code, Message: e.message, RequestID: reqID})
		w.Write(append([]byte(xml.Header), b...))
	}
	if r.Method != http.MethodPost {
		writeErr(ec2Fail(400, "InvalidHttpRequest", "The HTTP request method %s is not supported; use POST.", r.Method))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeErr(ec2Fail(400, "MalformedQueryString", "%v", err))
		return
	}
	action := r.PostForm.Get("Action")
	fault, ok := f.Faults.begin(r, action)
	if !ok {
		return
	}
	if fault != nil {
		if fault.Status == 0 && fault.Code == "" {
			awsHijackClose(w)
			return
		}
		writeErr(&ec2Err{status: fault.Status, code: fault.Code, message: fault.Message})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeErr(ec2Fail(401, "AuthFailure", "AWS was not able to validate the provided access credentials"))
		return
	}
	if r.PostForm.Get("Version") == "" {
		writeErr(ec2Fail(400, "MissingParameter", "The request must contain the parameter Version"))
		return
	}
	form := r.PostForm
	var resp any
	var err *ec2Err
	f.mu.Lock()
	switch action {
	case "DescribeRouteTables":
		resp, err = f.describeRouteTables(form)
	case "ReplaceRoute":
		resp, err = f.putRoute(form, false)
	case "CreateRoute":
		resp, err = f.putRoute(form, true)
	case "DescribeNetworkInterfaces":
		resp, err = f.describeENIs(form)
	case "ModifyNetworkInterfaceAttribute":
		resp, err = f.modifyENI(form)
	case "DescribeAddresses":
		resp, err = f.describeAddresses(form)
	case "AssociateAddress":
		resp, err = f.associateAddress(form)
	default:
		err = ec2Fail(400, "InvalidAction", "The action %s is not valid for this web service.", action)
	}
	f.mu.Unlock()
	if err != nil {
		writeErr(err)
		return
	}
	b, merr := xml.Marshal(resp)
	if merr != nil {
		writeErr(ec2Fail(500, "InternalError", "marshal: %v", merr))
		return
	}
	// Every response element carries the namespace and the request id.
	s := string(b)
	i := strings.IndexByte(s, '>')
	s = s[:i] + ` xmlns="` + ec2XMLNS + `"><requestId>` + reqID + `</requestId>` + s[i+1:]
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Write([]byte(xml.Header + s))
}

// ec2List collects Prefix.1, Prefix.2, … from the form.
func ec2List(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

type ec2Filter struct {
	name   string
	values []string
}

func ec2Filters(form url.Values) []ec2Filter {
	var out []ec2Filter
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name, ok := form[p+".Name"]
		if !ok {
			return out
		}
		out = append(out, ec2Filter{name: name[0], values: ec2List(form, p+".Value")})
	}
}

func ec2SameDest(a, b string) bool {
	pa, err1 := netip.ParsePrefix(a)
	pb, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && pa.Masked() == pb.Masked()
}

type ec2RouteXML struct {
	DestinationCidrBlock     string `xml:"destinationCidrBlock,omitempty"`
	DestinationIpv6CidrBlock string `xml:"destinationIpv6CidrBlock,omitempty"`
	GatewayID                string `xml:"gatewayId,omitempty"`
	InstanceID               string `xml:"instanceId,omitempty"`
	InstanceOwnerID          string `xml:"instanceOwnerId,omitempty"`
	NetworkInterfaceID       string `xml:"networkInterfaceId,omitempty"`
	TransitGatewayID         string `xml:"transitGatewayId,omitempty"`
	State                    string `xml:"state"`
	Origin                   string `xml:"origin"`
}

type ec2TableXML struct {
	RouteTableID string        `xml:"routeTableId"`
	VpcID        string        `xml:"vpcId"`
	OwnerID      string        `xml:"ownerId"`
	Routes       []ec2RouteXML `xml:"routeSet>item"`
}

type describeRouteTablesXML struct {
	XMLName   xml.Name      `xml:"DescribeRouteTablesResponse"`
	Tables    []ec2TableXML `xml:"routeTableSet>item"`
	NextToken string        `xml:"nextToken,omitempty"`
}

const ec2Owner = "123456789012"

func (f *EC2) tableXML(t *ec2Table) ec2TableXML {
	x := ec2TableXML{RouteTableID: t.id, VpcID: t.vpc, OwnerID: ec2Owner}
	for _, r := range t.routes {
		rx := ec2RouteXML{GatewayID: r.GatewayID, InstanceID: r.InstanceID, NetworkInterfaceID: r.NetworkInterfaceID,
			TransitGatewayID: r.TransitGatewayID, State: r.State, Origin: "CreateRoute"}
		if r.GatewayID == "local" {
			rx.Origin = "CreateRouteTable"
		}
		// EC2 reports the instance of an attached ENI target too.
		if e := f.enis[r.NetworkInterfaceID]; e != nil && e.InstanceID != "" {
			rx.InstanceID, rx.InstanceOwnerID = e.InstanceID, ec2Owner
		}
		if p, err := netip.ParsePrefix(r.Destination); err == nil && p.Addr().Is6() {
			rx.DestinationIpv6CidrBlock = r.Destination
		} else {
			rx.DestinationCidrBlock = r.Destination
		}
		x.Routes = append(x.Routes, rx)
	}
	return x
}

func (f *EC2) describeRouteTables(form url.Values) (any, *ec2Err) {
	ids := ec2List(form, "RouteTableId")
	for _, id := range ids {
		if f.tables[id] == nil {
			return nil, ec2Fail(400, "InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
		}
	}
	filters := ec2Filters(form)
	for _, fl := range filters {
		switch fl.name {
		case "vpc-id", "route-table-id", "route.destination-cidr-block", "route.destination-ipv6-cidr-block", "route.network-interface-id":
		default:
			return nil, ec2Fail(400, "InvalidParameterValue", "The filter '%s' is invalid", fl.name)
		}
	}
	keys := make([]string, 0, len(f.tables))
	for id := range f.tables {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	var out describeRouteTablesXML
	for _, id := range keys {
		t := f.tables[id]
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		if !ec2TableMatches(t, filters) {
			continue
		}
		out.Tables = append(out.Tables, f.tableXML(t))
	}
	// Pagination: MaxResults (5..100) with NextToken = index of the next item.
	if mr := form.Get("MaxResults"); mr != "" {
		n, err := strconv.Atoi(mr)
		if err != nil || n < 5 || n > 100 {
			return nil, ec2Fail(400, "InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 100.", mr)
		}
		start, _ := strconv.Atoi(form.Get("NextToken"))
		start = min(start, len(out.Tables))
		end := min(start+n, len(out.Tables))
		if end < len(out.Tables) {
			out.NextToken = strconv.Itoa(end)
		}
		out.Tables = out.Tables[start:end]
	}
	return out, nil
}

func ec2TableMatches(t *ec2Table, filters []ec2Filter) bool {
	for _, fl := range filters {
		ok := false
		for _, v := range fl.values {
			switch fl.name {
			case "vpc-id":
				ok = ok || t.vpc == v
			case "route-table-id":
				ok = ok || t.id == v
			case "route.destination-cidr-block", "route.destination-ipv6-cidr-block":
				for _, r := range t.routes {
					ok = ok || r.Destination == v
				}
			case "route.network-interface-id":
				for _, r := range t.routes {
					ok = ok || r.NetworkInterfaceID == v
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

type ec2ReturnXML struct {
	XMLName xml.Name
	Return  bool `xml:"return"`
}

func (f *EC2) putRoute(form url.Values, create bool) (any, *ec2Err) {
	id := form.Get("RouteTableId")
	t := f.tables[id]
	if id == "" {
		return nil, ec2Fail(400, "MissingParameter", "The request must contain the parameter routeTableId")
	}
	if t == nil {
		return nil, ec2Fail(400, "InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
	}
	dest := form.Get("DestinationCidrBlock")
	if v6 := form.Get("DestinationIpv6CidrBlock"); v6 != "" {
		dest = v6
	}
	p, err := netip.ParsePrefix(dest)
	if err != nil {
		return nil, ec2Fail(400, "InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.", dest)
	}
	nr := EC2Route{Destination: p.Masked().String(), NetworkInterfaceID: form.Get("NetworkInterfaceId"),
		InstanceID: form.Get("InstanceId"), GatewayID: form.Get("GatewayId"), TransitGatewayID: form.Get("TransitGatewayId"), State: "active"}
	if nr.NetworkInterfaceID != "" {
		e := f.enis[nr.NetworkInterfaceID]
		if e == nil {
			return nil, ec2Fail(400, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", nr.NetworkInterfaceID)
		}
		if e.VPCID != t.vpc {
			return nil, ec2Fail(400, "InvalidParameterValue", "route table %s and network interface %s belong to different networks", id, e.ID)
		}
	} else if nr.InstanceID == "" && nr.GatewayID == "" && nr.TransitGatewayID == "" {
		return nil, ec2Fail(400, "MissingParameter", "The request must contain exactly one of gatewayId, instanceId, networkInterfaceId, transitGatewayId")
	}
	idx := slices.IndexFunc(t.routes, func(r EC2Route) bool { return ec2SameDest(r.Destination, dest) })
	op := "ReplaceRoute"
	switch {
	case create && idx >= 0:
		return nil, ec2Fail(400, "RouteAlreadyExists", "The route identified by %s already exists.", nr.Destination)
	case create:
		op = "CreateRoute"
		t.routes = append(t.routes, nr)
	case idx < 0:
		return nil, ec2Fail(400, "InvalidParameterValue", "There is no route defined for '%s' in the route table. Use CreateRoute instead.", nr.Destination)
	case t.routes[idx].GatewayID == "local":
		return nil, ec2Fail(400, "InvalidParameterValue", "The destination '%s' is a local route and cannot be replaced", nr.Destination)
	default:
		t.routes[idx] = nr
	}
	target := nr.NetworkInterfaceID + nr.InstanceID + nr.GatewayID + nr.TransitGatewayID
	f.writes = append(f.writes, fmt.Sprintf("%s %s %s %s", op, id, nr.Destination, target))
	return ec2ReturnXML{XMLName: xml.Name{Local: op + "Response"}, Return: true}, nil
}

type ec2ENIXML struct {
	NetworkInterfaceID string `xml:"networkInterfaceId"`
	SubnetID           string `xml:"subnetId"`
	VpcID              string `xml:"vpcId"`
	OwnerID            string `xml:"ownerId"`
	Status             string `xml:"status"`
	PrivateIPAddress   string `xml:"privateIpAddress"`
	SourceDestCheck    bool   `xml:"sourceDestCheck"`
	InterfaceType      string `xml:"interfaceType"`
	Attachment         *struct {
		InstanceID string `xml:"instanceId"`
		Status     string `xml:"status"`
	} `xml:"attachment,omitempty"`
	PrivateIPs []struct {
		Address string `xml:"privateIpAddress"`
		Primary bool   `xml:"primary"`
	} `xml:"privateIpAddressesSet>item"`
}

type describeENIsXML struct {
	XMLName xml.Name    `xml:"DescribeNetworkInterfacesResponse"`
	ENIs    []ec2ENIXML `xml:"networkInterfaceSet>item"`
}

func (f *EC2) describeENIs(form url.Values) (any, *ec2Err) {
	ids := ec2List(form, "NetworkInterfaceId")
	if len(ids) == 0 {
		for id := range f.enis {
			ids = append(ids, id)
		}
		sort.Strings(ids)
	}
	var out describeENIsXML
	for _, id := range ids {
		e := f.enis[id]
		if e == nil {
			return nil, ec2Fail(400, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id)
		}
		x := ec2ENIXML{NetworkInterfaceID: e.ID, SubnetID: e.SubnetID, VpcID: e.VPCID, OwnerID: ec2Owner,
			Status: "available", SourceDestCheck: e.SourceDestCheck, InterfaceType: "interface"}
		if e.InstanceID != "" {
			x.Status = "in-use"
			x.Attachment = &struct {
				InstanceID string `xml:"instanceId"`
				Status     string `xml:"status"`
			}{e.InstanceID, "attached"}
		}
		for i, ip := range e.PrivateIPs {
			if i == 0 {
				x.PrivateIPAddress = ip
			}
			x.PrivateIPs = append(x.PrivateIPs, struct {
				Address string `xml:"privateIpAddress"`
				Primary bool   `xml:"primary"`
			}{ip, i == 0})
		}
		out.ENIs = append(out.ENIs, x)
	}
	return out, nil
}

func (f *EC2) modifyENI(form url.Values) (any, *ec2Err) {
	id := form.Get("NetworkInterfaceId")
	e := f.enis[id]
	if e == nil {
		return nil, ec2Fail(400, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id)
	}
	v := form.Get("SourceDestCheck.Value")
	if v == "" {
		return nil, ec2Fail(400, "MissingParameter", "The request must contain an attribute to modify")
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, ec2Fail(400, "InvalidParameterValue", "Value (%s) for parameter sourceDestCheck is invalid", v)
	}
	e.SourceDestCheck = b
	f.writes = append(f.writes, fmt.Sprintf("ModifyNetworkInterfaceAttribute %s sourceDestCheck=%t", id, b))
	return ec2ReturnXML{XMLName: xml.Name{Local: "ModifyNetworkInterfaceAttributeResponse"}, Return: true}, nil
}

type ec2AddressXML struct {
	PublicIP           string `xml:"publicIp"`
	AllocationID       string `xml:"allocationId"`
	Domain             string `xml:"domain"`
	AssociationID      string `xml:"associationId,omitempty"`
	NetworkInterfaceID string `xml:"networkInterfaceId,omitempty"`
	OwnerID            string `xml:"networkInterfaceOwnerId,omitempty"`
	PrivateIPAddress   string `xml:"privateIpAddress,omitempty"`
	InstanceID         string `xml:"instanceId,omitempty"`
}

type describeAddressesXML struct {
	XMLName   xml.Name        `xml:"DescribeAddressesResponse"`
	Addresses []ec2AddressXML `xml:"addressesSet>item"`
}

func (f *EC2) describeAddresses(form url.Values) (any, *ec2Err) {
	ids := ec2List(form, "AllocationId")
	if len(ids) == 0 {
		for id := range f.eips {
			ids = append(ids, id)
		}
		sort.Strings(ids)
	}
	var out describeAddressesXML
	for _, id := range ids {
		a := f.eips[id]
		if a == nil {
			return nil, ec2Fail(400, "InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", id)
		}
		x := ec2AddressXML{PublicIP: a.PublicIP, AllocationID: a.AllocationID, Domain: "vpc", AssociationID: a.AssociationID,
			NetworkInterfaceID: a.NetworkInterfaceID, PrivateIPAddress: a.PrivateIP, InstanceID: a.InstanceID}
		if a.NetworkInterfaceID != "" {
			x.OwnerID = ec2Owner
		}
		out.Addresses = append(out.Addresses, x)
	}
	return out, nil
}

type associateAddressXML struct {
	XMLName       xml.Name `xml:"AssociateAddressResponse"`
	Return        bool     `xml:"return"`
	AssociationID string   `xml:"associationId"`
}

func (f *EC2) associateAddress(form url.Values) (any, *ec2Err) {
	id := form.Get("AllocationId")
	a := f.eips[id]
	if a == nil {
		return nil, ec2Fail(400, "InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", id)
	}
	eniID := form.Get("NetworkInterfaceId")
	e := f.enis[eniID]
	if e == nil {
		return nil, ec2Fail(400, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", eniID)
	}
	ip := form.Get("PrivateIpAddress")
	if ip == "" && len(e.PrivateIPs) > 0 {
		ip = e.PrivateIPs[0]
	}
	if !slices.Contains(e.PrivateIPs, ip) {
		return nil, ec2Fail(400, "InvalidParameterValue", "The private IP address %s is not associated with the network interface %s", ip, eniID)
	}
	reassoc := form.Get("AllowReassociation") == "true"
	if a.NetworkInterfaceID != "" && (a.NetworkInterfaceID != eniID || a.PrivateIP != ip) && !reassoc {
		return nil, ec2Fail(400, "Resource.AlreadyAssociated", "resource %s is already associated with associate-id %s", id, a.AssociationID)
	}
	f.seq++
	a.AssociationID = fmt.Sprintf("eipassoc-%08d", f.seq)
	a.NetworkInterfaceID, a.PrivateIP, a.InstanceID = eniID, ip, e.InstanceID
	f.writes = append(f.writes, fmt.Sprintf("AssociateAddress %s %s %s", id, eniID, ip))
	return associateAddressXML{Return: true, AssociationID: a.AssociationID}, nil
}
