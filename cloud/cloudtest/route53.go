package cloudtest

import (
	"net/http"
	"net/http/httptest"
	"slices"
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
