// The Route 53 fake's calls: ChangeResourceRecordSets (validated and
// applied atomically), GetChange and ListResourceRecordSets.

package cloudtest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

type r53RRSetXML struct {
	Name          string   `xml:"Name"`
	Type          string   `xml:"Type"`
	SetIdentifier string   `xml:"SetIdentifier,omitempty"`
	TTL           *int64   `xml:"TTL,omitempty"`
	Values        []string `xml:"ResourceRecords>ResourceRecord>Value"`
}

type r53ChangeRequestXML struct {
	XMLName     xml.Name `xml:"ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string `xml:"Comment"`
		Changes []struct {
			Action string      `xml:"Action"`
			RRSet  r53RRSetXML `xml:"ResourceRecordSet"`
		} `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type r53ChangeInfoXML struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

type r53ChangeResponseXML struct {
	XMLName    xml.Name         `xml:"ChangeResourceRecordSetsResponse"`
	Xmlns      string           `xml:"xmlns,attr"`
	ChangeInfo r53ChangeInfoXML `xml:"ChangeInfo"`
}

type r53GetChangeResponseXML struct {
	XMLName    xml.Name         `xml:"GetChangeResponse"`
	Xmlns      string           `xml:"xmlns,attr"`
	ChangeInfo r53ChangeInfoXML `xml:"ChangeInfo"`
}

type r53ListResponseXML struct {
	XMLName        xml.Name      `xml:"ListResourceRecordSetsResponse"`
	Xmlns          string        `xml:"xmlns,attr"`
	Sets           []r53RRSetXML `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated    bool          `xml:"IsTruncated"`
	NextRecordName string        `xml:"NextRecordName,omitempty"`
	NextRecordType string        `xml:"NextRecordType,omitempty"`
	MaxItems       string        `xml:"MaxItems"`
}

func (f *Route53) zone(id string) (*r53Zone, *r53Err) {
	z := f.zones[id]
	if z == nil {
		return nil, r53Fail(404, "NoSuchHostedZone", "No hosted zone found with ID: %s", id)
	}
	return z, nil
}

func (f *Route53) change(zoneID string, body []byte) (any, *r53Err) {
	z, err := f.zone(zoneID)
	if err != nil {
		return nil, err
	}
	var req r53ChangeRequestXML
	if xerr := xml.Unmarshal(body, &req); xerr != nil {
		return nil, r53Fail(400, "InvalidInput", "Could not parse the request body: %v", xerr)
	}
	if len(req.ChangeBatch.Changes) == 0 {
		return nil, r53Fail(400, "InvalidInput", "1 validation error detected: Value null at 'changeBatch.changes' failed to satisfy constraint: Member must not be null")
	}
	// Apply to a copy; commit only when every change is valid (atomic batch).
	recs := slices.Clone(z.records)
	var log []string
	for _, c := range req.ChangeBatch.Changes {
		rs := c.RRSet
		name := r53Canon(rs.Name)
		if name != z.name && !strings.HasSuffix(name, "."+z.name) {
			return nil, r53Fail(400, "InvalidChangeBatch", "[RRSet with DNS name %s is not permitted in zone %s]", name, z.name)
		}
		for _, v := range rs.Values {
			a, perr := netip.ParseAddr(v)
			if rs.Type == "A" && (perr != nil || !a.Is4()) {
				return nil, r53Fail(400, "InvalidChangeBatch", "[Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '%s'']", v)
			}
			if rs.Type == "AAAA" && (perr != nil || !a.Is6() || a.Is4In6()) {
				return nil, r53Fail(400, "InvalidChangeBatch", "[Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address) encountered with '%s'']", v)
			}
		}
		if rs.TTL == nil || len(rs.Values) == 0 {
			return nil, r53Fail(400, "InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=%s, Name=%s, Type=%s]", c.Action, name, rs.Type)
		}
		rec := R53Record{Name: name, Type: rs.Type, TTL: *rs.TTL, Values: rs.Values, SetIdentifier: rs.SetIdentifier}
		i := slices.IndexFunc(recs, func(r R53Record) bool {
			return r.Name == name && r.Type == rs.Type && r.SetIdentifier == rs.SetIdentifier
		})
		clash := slices.ContainsFunc(recs, func(r R53Record) bool {
			return r.Name == name && r.Type != rs.Type && (r.Type == "CNAME" || rs.Type == "CNAME")
		})
		switch c.Action {
		case "CREATE", "UPSERT":
			if clash {
				return nil, r53Fail(400, "InvalidChangeBatch", "[RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone %s.]", rs.Type, name, z.name)
			}
			if i >= 0 && c.Action == "CREATE" {
				return nil, r53Fail(400, "InvalidChangeBatch", "[Tried to create resource record set [name='%s', type='%s'] but it already exists]", name, rs.Type)
			}
			if i >= 0 {
				recs[i] = rec
			} else {
				recs = append(recs, rec)
			}
		case "DELETE":
			if i < 0 || recs[i].TTL != rec.TTL || !slices.Equal(recs[i].Values, rec.Values) {
				return nil, r53Fail(400, "InvalidChangeBatch", "[Tried to delete resource record set [name='%s', type='%s'] but it was not found]", name, rs.Type)
			}
			recs = slices.Delete(recs, i, i+1)
		default:
			return nil, r53Fail(400, "InvalidInput", "Invalid XML ; cvc-enumeration-valid: Value '%s' is not facet-valid with respect to enumeration '[CREATE, DELETE, UPSERT]'.", c.Action)
		}
		log = append(log, fmt.Sprintf("%s %s %s %d %s", c.Action, name, rs.Type, *rs.TTL, strings.Join(rs.Values, ",")))
	}
	z.records = recs
	f.writes = append(f.writes, log...)
	id := fmt.Sprintf("C%012dLBHC", f.seq)
	ch := &r53Change{id: id, submitted: time.Now().UTC(), comment: req.ChangeBatch.Comment}
	f.changes[id] = ch
	return r53ChangeResponseXML{Xmlns: r53XMLNS, ChangeInfo: f.info(ch, "PENDING")}, nil
}

func (f *Route53) info(ch *r53Change, status string) r53ChangeInfoXML {
	return r53ChangeInfoXML{ID: "/change/" + ch.id, Status: status, SubmittedAt: ch.submitted.Format("2006-01-02T15:04:05.000Z"), Comment: ch.comment}
}

func (f *Route53) getChange(id string) (any, *r53Err) {
	ch := f.changes[id]
	if ch == nil {
		return nil, r53Fail(404, "NoSuchChange", "A change with the specified change ID does not exist.")
	}
	ch.polls++
	status := "INSYNC"
	if ch.polls <= f.pendingPolls {
		status = "PENDING"
	}
	return r53GetChangeResponseXML{Xmlns: r53XMLNS, ChangeInfo: f.info(ch, status)}, nil
}

func (f *Route53) list(zoneID string, r *http.Request) (any, *r53Err) {
	z, err := f.zone(zoneID)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	name, typ := q.Get("name"), q.Get("type")
	if typ != "" && name == "" {
		return nil, r53Fail(400, "InvalidInput", "The input is not valid: type requires name")
	}
	maxItems := 300
	if s := q.Get("maxitems"); s != "" {
		n, perr := strconv.Atoi(s)
		if perr != nil || n < 1 {
			return nil, r53Fail(400, "InvalidInput", "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint", s)
		}
		maxItems = min(n, 300)
	}
	recs := slices.Clone(z.records)
	slices.SortFunc(recs, func(a, b R53Record) int {
		if c := strings.Compare(r53SortKey(a.Name), r53SortKey(b.Name)); c != 0 {
			return c
		}
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.SetIdentifier, b.SetIdentifier)
	})
	// Skip to the first set at or after (name, type).
	start := 0
	if name != "" {
		key := r53SortKey(r53Canon(name))
		start = slices.IndexFunc(recs, func(r R53Record) bool {
			k := r53SortKey(r.Name)
			return k > key || (k == key && r.Type >= typ)
		})
		if start < 0 {
			start = len(recs)
		}
	}
	out := r53ListResponseXML{Xmlns: r53XMLNS, MaxItems: strconv.Itoa(maxItems)}
	for i := start; i < len(recs); i++ {
		if len(out.Sets) == maxItems {
			out.IsTruncated = true
			out.NextRecordName, out.NextRecordType = recs[i].Name, recs[i].Type
			break
		}
		rec := recs[i]
		ttl := rec.TTL
		// Route 53 returns characters outside [a-z0-9-_.] as \ooo octal escapes.
		out.Sets = append(out.Sets, r53RRSetXML{Name: strings.ReplaceAll(rec.Name, "*", `\052`), Type: rec.Type, SetIdentifier: rec.SetIdentifier, TTL: &ttl, Values: rec.Values})
	}
	return out, nil
}
