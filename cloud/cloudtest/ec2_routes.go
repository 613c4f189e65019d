// Route tables in the EC2 fake: DescribeRouteTables with its filters,
// CreateRoute and ReplaceRoute.

package cloudtest

import (
	"encoding/xml"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
)

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
