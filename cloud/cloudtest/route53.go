package cloudtest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// r53XMLNS is the namespace of every Route 53 request and response body.
const r53XMLNS = "https://route53.amazonaws.com/doc/2013-04-01/"

// Route53 is a fake of the Amazon Route 53 REST-XML API, limited to the
// calls lbhc's route53 action makes: ChangeResourceRecordSets,
// ListResourceRecordSets and GetChange. It is written from AWS's public
// Route 53 API reference; it is not AWS code and only approximates the real
// service.
//
// Behaviour modelled: changes are applied atomically when accepted and
// report PENDING for PendingPolls GetChange calls, then INSYNC; names are
// stored lower-case with a trailing dot and listed in Route 53's order
// (labels compared right to left, then type); CREATE of an existing set,
// DELETE of a missing one, a name outside the zone, a bad A/AAAA value or a
// CNAME clash answer InvalidChangeBatch. Errors use the
// <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/> document
// with HTTP 400 (Throttling, PriorRequestNotComplete, InvalidChangeBatch,
// InvalidInput) or 404 (NoSuchHostedZone, NoSuchChange). Faults injects
// errors, 5xx, delays and dropped connections per operation.
type Route53 struct {
	Faults AWSFaults

	srv *httptest.Server

	mu           sync.Mutex
	pendingPolls int
	zones        map[string]*r53Zone
	changes      map[string]*r53Change
	writes       []string
	seq          int
}

// R53Record is one resource record set.
type R53Record struct {
	Name          string // any case, trailing dot optional
	Type          string // "A", "AAAA", "CNAME", ...
	TTL           int64  // seconds
	Values        []string
	SetIdentifier string
}

type r53Zone struct {
	id, name string
	records  []R53Record
}

type r53Change struct {
	id        string
	polls     int
	submitted time.Time
	comment   string
}

// NewRoute53 starts the fake on a loopback port. Close it when done.
func NewRoute53() *Route53 {
	f := &Route53{zones: map[string]*r53Zone{}, changes: map[string]*r53Change{}, pendingPolls: 1}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the endpoint to give the SDK as BaseEndpoint.
func (f *Route53) URL() string { return f.srv.URL }

// Close stops the server.
func (f *Route53) Close() { f.srv.Close() }

// SetPendingPolls sets how many GetChange calls of a change answer PENDING
// before it is INSYNC (default 1).
func (f *Route53) SetPendingPolls(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pendingPolls = n
}

// AddZone creates hosted zone id (e.g. "Z0123456789") for domain name.
func (f *Route53) AddZone(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.zones[id] = &r53Zone{id: id, name: r53Canon(name)}
}

// SetRecord creates or overwrites a record set out of band (as an operator
// or another node would).
func (f *Route53) SetRecord(zone string, r R53Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	z := f.zones[zone]
	r.Name = r53Canon(r.Name)
	if i := z.find(r.Name, r.Type, r.SetIdentifier); i >= 0 {
		z.records[i] = r
		return
	}
	z.records = append(z.records, r)
}

// Record returns the record set (simple routing) name/type of zone.
func (f *Route53) Record(zone, name, typ string) (R53Record, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	z := f.zones[zone]
	if i := z.find(r53Canon(name), typ, ""); i >= 0 {
		r := z.records[i]
		r.Values = slices.Clone(r.Values)
		return r, true
	}
	return R53Record{}, false
}

// Writes lists accepted changes, e.g. "UPSERT db.example.com. A 10 10.0.0.1".
func (f *Route53) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

func (z *r53Zone) find(name, typ, setID string) int {
	return slices.IndexFunc(z.records, func(r R53Record) bool {
		return r.Name == name && r.Type == typ && r.SetIdentifier == setID
	})
}

// r53Canon is a name as Route 53 stores it: lower case, trailing dot.
func r53Canon(s string) string {
	s = strings.ToLower(s)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// r53SortKey orders names as Route 53 lists them: labels right to left.
func r53SortKey(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, "\x00")
}

type r53ErrorXML struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

type r53Err struct {
	status        int
	code, message string
}

func r53Fail(status int, code, format string, args ...any) *r53Err {
	return &r53Err{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func (f *Route53) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seq++
	reqID := fmt.Sprintf("r53-req-%06d", f.seq)
	f.mu.Unlock()
	w.Header().Set("x-amzn-RequestId", reqID)
	writeErr := func(e *r53Err) {
		typ := "Sender"
		if e.status >= 500 {
			typ = "Receiver"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(e.status)
		b, _ := xml.Marshal(r53ErrorXML{Xmlns: r53XMLNS, Type: typ, Code: e.code, Message: e.message, RequestID: reqID})
		w.Write(append([]byte(xml.Header), b...))
	}
	// Routes: POST|GET /2013-04-01/hostedzone/{id}/rrset, GET /2013-04-01/change/{id}.
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/2013-04-01/"), "/")
	op := ""
	switch {
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && r.Method == http.MethodPost:
		op = "ChangeResourceRecordSets"
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && r.Method == http.MethodGet:
		op = "ListResourceRecordSets"
	case len(parts) == 2 && parts[0] == "change" && r.Method == http.MethodGet:
		op = "GetChange"
	default:
		writeErr(r53Fail(404, "UnknownOperationException", "no operation for %s %s", r.Method, r.URL.Path))
		return
	}
	fault, ok := f.Faults.begin(r, op)
	if !ok {
		return
	}
	if fault != nil {
		if fault.Status == 0 && fault.Code == "" {
			awsHijackClose(w)
			return
		}
		writeErr(&r53Err{status: fault.Status, code: fault.Code, message: fault.Message})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeErr(r53Fail(403, "MissingAuthenticationToken", "Missing Authentication Token"))
		return
	}
	var resp any
	var err *r53Err
	switch op {
	case "ChangeResourceRecordSets":
		body, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rerr != nil {
			writeErr(r53Fail(400, "InvalidInput", "reading body: %v", rerr))
			return
		}
		f.mu.Lock()
		resp, err = f.change(parts[1], body)
		f.mu.Unlock()
	case "ListResourceRecordSets":
		f.mu.Lock()
		resp, err = f.list(parts[1], r)
		f.mu.Unlock()
	case "GetChange":
		f.mu.Lock()
		resp, err = f.getChange(parts[1])
		f.mu.Unlock()
	}
	if err != nil {
		writeErr(err)
		return
	}
	b, merr := xml.Marshal(resp)
	if merr != nil {
		writeErr(r53Fail(500, "InternalFailure", "marshal: %v", merr))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Write(append([]byte(xml.Header), b...))
}

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
