// Network interfaces and Elastic IPs in the EC2 fake:
// DescribeNetworkInterfaces, ModifyNetworkInterfaceAttribute,
// DescribeAddresses and AssociateAddress.

package cloudtest

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
)

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
