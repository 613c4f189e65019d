package cloudtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// GCE is a FAKE of the few Compute Engine REST API v1 operations lbhc
// calls, written from Google's published REST reference; it is not Google
// code and not an emulator (Google ships none for Compute Engine). It keeps
// the protocol's shape and rules that the GCP actions depend on:
//
//   - routes insert / get / list / delete under /compute/v1/projects/P/global/routes,
//     immutable, names checked against [a-z]([-a-z0-9]{0,61}[a-z0-9])?, 409
//     alreadyExists on a taken name, 404 notFound;
//   - every mutation returns an Operation (PENDING) and takes effect only
//     when the operation reaches DONE, which happens on the OpPolls-th
//     GET of globalOperations.get / zoneOperations.get; a failed effect is
//     reported as DONE with an error list and httpErrorStatusCode, as the
//     real API reports asynchronous failures;
//   - instances get / aggregatedList / updateNetworkInterface: every
//     interface has a fingerprint that changes on every update; an update
//     with a stale one answers 412 conditionNotMet, one without a
//     fingerprint 400; the update has PATCH semantics (an absent
//     aliasIpRanges is left alone); a second update of an instance while
//     one is pending answers 400 resourceNotReady; stopped (TERMINATED)
//     instances are updated like running ones;
//   - alias IP ranges are exclusive in a network: adding a range another
//     interface holds fails the operation with IP_IN_USE_BY_ANOTHER_RESOURCE
//     ("IP '…' is already being used by another resource."), the code the
//     real API reports in an operation error for an address conflict;
//   - injectable errors per operation (e.g. 403 rateLimitExceeded, 429,
//     500) and injectable operation failures.
//
// Only the fields lbhc reads are modelled.
type GCE struct {
	srv     *httptest.Server
	Project string

	mu      sync.Mutex
	OpPolls int // polls of an operation until DONE (>= 1); default 2
	// PageSize caps a list page below the client's maxResults (default
	// 500, the API's maximum), so tests can make lists span pages.
	PageSize int
	// Token, when set, is the bearer token every request must carry
	// (401 otherwise, as the API answers a missing or wrong token).
	Token     string
	networks  map[string]bool
	routes    map[string]GCERoute
	instances map[string]*GCEInstance // by zone/name
	ops       map[string]*gceOp
	busy      map[string]bool // zone/name with a pending update
	faults    map[string][]GCEFault
	opFails   map[string][]GCEFault
	hooks     map[string][]func()
	calls     map[string]int
	seq       int
}

// GCEFault is an injected error answer (Reason e.g. "rateLimitExceeded").
// For an operation failure Reason is the operation error's code.
type GCEFault struct {
	Status  int
	Reason  string
	Message string
}

// GCERoute is a route as the fake stores it.
type GCERoute struct {
	Name, Description, Network, DestRange, NextHopInstance string
	Priority                                               int
}

type gceOp struct {
	name, zone, kind string
	polls            int
	effect           func() *GCEFault // run at DONE; nil error = success
	done             bool
	fail             *GCEFault
}

// NewGCE starts the fake for project on 127.0.0.1; stop it with Close.
func NewGCE(project string) *GCE {
	f := &GCE{Project: project, OpPolls: 2, networks: map[string]bool{}, routes: map[string]GCERoute{},
		instances: map[string]*GCEInstance{}, ops: map[string]*gceOp{}, busy: map[string]bool{},
		faults: map[string][]GCEFault{}, opFails: map[string][]GCEFault{}, hooks: map[string][]func(){}, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the API base to use instead of https://compute.googleapis.com/compute/v1/.
func (f *GCE) URL() string { return f.srv.URL + "/compute/v1/" }

// Close stops the server.
func (f *GCE) Close() { f.srv.Close() }

// AddNetwork creates VPC network name.
func (f *GCE) AddNetwork(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.networks[name] = true
}

// PutRoute stores a route directly (someone else's, or drift).
func (f *GCE) PutRoute(r GCERoute) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[r.Name] = r
}

// DeleteRoute removes a route directly (drift).
func (f *GCE) DeleteRoute(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.routes, name)
}

// Routes returns the stored routes sorted by name.
func (f *GCE) Routes() []GCERoute {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]GCERoute, 0, len(f.routes))
	for _, r := range f.routes {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FailNext makes the next n requests of op fail with fault. op names:
// routes.insert, routes.get, routes.list, routes.delete, operations.get,
// instances.get, instances.aggregatedList, instances.updateNetworkInterface.
func (f *GCE) FailNext(op string, n int, fault GCEFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults[op] = append(f.faults[op], fault)
	}
}

// FailOperation makes the next operation of kind (routes.insert,
// routes.delete, instances.updateNetworkInterface) end DONE with fault.
func (f *GCE) FailOperation(kind string, fault GCEFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opFails[kind] = append(f.opFails[kind], fault)
}

// BeforeNext runs fn (without the fake's lock held) before the next
// request of op is handled: a concurrent change between a read and a write.
func (f *GCE) BeforeNext(op string, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks[op] = append(f.hooks[op], fn)
}

// Calls is the number of requests of op received.
func (f *GCE) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

var gceName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func gceError(w http.ResponseWriter, status int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg,
		"errors": []map[string]string{{"message": msg, "domain": "global", "reason": reason}}}})
}

func gceJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// link is the canonical URL of a resource path "projects/...".
func gceLink(path string) string { return "https://www.googleapis.com/compute/v1/" + path }

func gceTail(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

func (f *GCE) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/compute/v1/projects/"+f.Project+"/")
	if !ok {
		gceError(w, 404, "notFound", "The resource '"+r.URL.Path+"' was not found")
		return
	}
	seg := strings.Split(rest, "/")
	op := ""
	switch {
	case len(seg) == 2 && seg[0] == "global" && seg[1] == "routes" && r.Method == http.MethodPost:
		op = "routes.insert"
	case len(seg) == 2 && seg[0] == "global" && seg[1] == "routes" && r.Method == http.MethodGet:
		op = "routes.list"
	case len(seg) == 3 && seg[0] == "global" && seg[1] == "routes" && r.Method == http.MethodGet:
		op = "routes.get"
	case len(seg) == 3 && seg[0] == "global" && seg[1] == "routes" && r.Method == http.MethodDelete:
		op = "routes.delete"
	case len(seg) == 3 && seg[0] == "global" && seg[1] == "operations" && r.Method == http.MethodGet,
		len(seg) == 4 && seg[0] == "zones" && seg[2] == "operations" && r.Method == http.MethodGet:
		op = "operations.get"
	case len(seg) == 4 && seg[0] == "zones" && seg[2] == "instances" && r.Method == http.MethodGet:
		op = "instances.get"
	case len(seg) == 5 && seg[0] == "zones" && seg[2] == "instances" && seg[4] == "updateNetworkInterface" && r.Method == http.MethodPatch:
		op = "instances.updateNetworkInterface"
	case len(seg) == 2 && seg[0] == "aggregated" && seg[1] == "instances" && r.Method == http.MethodGet:
		op = "instances.aggregatedList"
	default:
		gceError(w, 404, "notFound", "no such method: "+r.Method+" "+r.URL.Path)
		return
	}
	f.mu.Lock()
	f.calls[op]++
	if f.Token != "" && r.Header.Get("Authorization") != "Bearer "+f.Token {
		f.mu.Unlock()
		gceError(w, 401, "authError", "Request had invalid authentication credentials.")
		return
	}
	hooks := f.hooks[op]
	delete(f.hooks, op)
	f.mu.Unlock()
	for _, h := range hooks {
		h()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if q := f.faults[op]; len(q) > 0 {
		f.faults[op] = q[1:]
		gceError(w, q[0].Status, q[0].Reason, q[0].Message)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	switch op {
	case "routes.insert":
		f.routeInsert(w, body)
	case "routes.list":
		f.routeList(w, r)
	case "routes.get":
		rt, ok := f.routes[seg[2]]
		if !ok {
			gceError(w, 404, "notFound", "The resource 'projects/"+f.Project+"/global/routes/"+seg[2]+"' was not found")
			return
		}
		gceJSON(w, f.routeJSON(rt))
	case "routes.delete":
		name := seg[2]
		if _, ok := f.routes[name]; !ok {
			gceError(w, 404, "notFound", "The resource 'projects/"+f.Project+"/global/routes/"+name+"' was not found")
			return
		}
		gceJSON(w, f.newOp("routes.delete", "", "projects/"+f.Project+"/global/routes/"+name, func() *GCEFault {
			delete(f.routes, name)
			return nil
		}))
	case "operations.get":
		f.opGet(w, seg)
	case "instances.get":
		f.instanceGet(w, seg[1], seg[3])
	case "instances.aggregatedList":
		f.aggregatedList(w, r)
	case "instances.updateNetworkInterface":
		f.updateNIC(w, r, seg[1], seg[3], body)
	}
}

func (f *GCE) routeJSON(r GCERoute) map[string]any {
	m := map[string]any{"kind": "compute#route", "name": r.Name, "network": r.Network, "destRange": r.DestRange,
		"priority": r.Priority, "selfLink": gceLink("projects/" + f.Project + "/global/routes/" + r.Name)}
	if r.Description != "" {
		m["description"] = r.Description
	}
	if r.NextHopInstance != "" {
		m["nextHopInstance"] = r.NextHopInstance
	}
	return m
}

func (f *GCE) routeInsert(w http.ResponseWriter, body []byte) {
	var in struct {
		Name, Description, Network, DestRange, NextHopInstance string
		Priority                                               *int
	}
	if err := json.Unmarshal(body, &in); err != nil {
		gceError(w, 400, "parseError", "Parse Error")
		return
	}
	switch {
	case !gceName.MatchString(in.Name):
		gceError(w, 400, "invalid", fmt.Sprintf("Invalid value for field 'resource.name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", in.Name))
		return
	case f.routes[in.Name].Name != "" || f.pendingInsert(in.Name):
		gceError(w, 409, "alreadyExists", "The resource 'projects/"+f.Project+"/global/routes/"+in.Name+"' already exists")
		return
	case !f.networks[gceTail(in.Network)] || !strings.Contains(in.Network, "projects/"+f.Project+"/global/networks/"):
		gceError(w, 400, "invalid", "Invalid value for field 'resource.network': '"+in.Network+"'. The referenced network resource cannot be found.")
		return
	case in.Priority == nil || *in.Priority < 0 || *in.Priority > 65535:
		gceError(w, 400, "invalid", "Invalid value for field 'resource.priority'")
		return
	}
	if _, err := netip.ParsePrefix(in.DestRange); err != nil {
		gceError(w, 400, "invalid", "Invalid value for field 'resource.destRange': '"+in.DestRange+"'. Must be a CIDR.")
		return
	}
	if in.NextHopInstance == "" || f.instances[instanceKey(in.NextHopInstance)] == nil {
		gceError(w, 400, "invalid", "Invalid value for field 'resource.nextHopInstance': '"+in.NextHopInstance+"'. The referenced instance resource cannot be found.")
		return
	}
	rt := GCERoute{Name: in.Name, Description: in.Description, Network: gceLink("projects/" + f.Project + "/global/networks/" + gceTail(in.Network)),
		DestRange: in.DestRange, NextHopInstance: gceLink(in.NextHopInstance[strings.Index(in.NextHopInstance, "projects/"):]), Priority: *in.Priority}
	gceJSON(w, f.newOp("routes.insert", "", "projects/"+f.Project+"/global/routes/"+in.Name, func() *GCEFault {
		f.routes[rt.Name] = rt
		return nil
	}))
}

func (f *GCE) pendingInsert(name string) bool {
	for _, o := range f.ops {
		if !o.done && o.kind == "routes.insert" && strings.HasSuffix(o.name, "-"+name) {
			return true
		}
	}
	return false
}

// instanceKey is "zone/name" of an instance URL or path, "" if it is none.
func instanceKey(link string) string {
	i := strings.Index(link, "projects/")
	if i < 0 {
		return ""
	}
	f := strings.Split(link[i:], "/")
	if len(f) != 6 || f[2] != "zones" || f[4] != "instances" {
		return ""
	}
	return f[3] + "/" + f[5]
}

func (f *GCE) routeList(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(f.routes))
	for n := range f.routes {
		names = append(names, n)
	}
	sort.Strings(names)
	from, to, next := gcePage(r, len(names), f.PageSize)
	items := []map[string]any{}
	for _, n := range names[from:to] {
		items = append(items, f.routeJSON(f.routes[n]))
	}
	out := map[string]any{"kind": "compute#routeList", "items": items}
	if next != "" {
		out["nextPageToken"] = next
	}
	gceJSON(w, out)
}

// gcePage applies maxResults (default and maximum 500, capped further by
// limit when > 0) and pageToken (an offset here; opaque to clients) to n
// items.
func gcePage(r *http.Request, n, limit int) (from, to int, next string) {
	size := 500
	if v, err := strconv.Atoi(r.URL.Query().Get("maxResults")); err == nil && v > 0 && v < 500 {
		size = v
	}
	if limit > 0 {
		size = min(size, limit)
	}
	from, _ = strconv.Atoi(r.URL.Query().Get("pageToken"))
	from = min(max(from, 0), n)
	to = min(from+size, n)
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next
}
