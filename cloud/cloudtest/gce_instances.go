package cloudtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
)

// GCEInstance is an instance as the GCE fake stores it.
type GCEInstance struct {
	Name, Zone string
	Status     string // RUNNING, TERMINATED (stopped), ...
	NICs       []GCENIC
}

// GCENIC is one network interface: its aliases are ipCidrRange strings.
type GCENIC struct {
	Name, Network string
	Aliases       []string
	fingerprint   int
}

// AddInstance stores an instance (Status "" = RUNNING).
func (f *GCE) AddInstance(in GCEInstance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.Status == "" {
		in.Status = "RUNNING"
	}
	f.seq++
	for i := range in.NICs {
		in.NICs[i].fingerprint = f.seq
	}
	f.instances[in.Zone+"/"+in.Name] = &in
}

// Instance returns a copy of instance zone/name.
func (f *GCE) Instance(zone, name string) (GCEInstance, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.instances[zone+"/"+name]
	if in == nil {
		return GCEInstance{}, false
	}
	out := *in
	out.NICs = append([]GCENIC(nil), in.NICs...)
	return out, true
}

// SetAliases sets nic's alias ranges directly (drift, or a change by
// someone else), changing its fingerprint like any update.
func (f *GCE) SetAliases(zone, name, nic string, aliases []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.instances[zone+"/"+name].NICs {
		n := &f.instances[zone+"/"+name].NICs[i]
		if n.Name == nic {
			f.seq++
			n.Aliases, n.fingerprint = aliases, f.seq
		}
	}
}

func (f *GCE) newOp(kind, zone, target string, effect func() *GCEFault) map[string]any {
	f.seq++
	o := &gceOp{name: fmt.Sprintf("operation-%d-%s", f.seq, gceTail(target)), zone: zone, kind: kind, effect: effect}
	f.ops[o.name] = o
	return f.opJSON(o, target)
}

func (f *GCE) opJSON(o *gceOp, target string) map[string]any {
	status := "PENDING"
	switch {
	case o.done:
		status = "DONE"
	case o.polls > 0:
		status = "RUNNING"
	}
	m := map[string]any{"kind": "compute#operation", "name": o.name, "status": status, "operationType": o.kind, "progress": 0}
	if target != "" {
		m["targetLink"] = gceLink(target)
	}
	if o.zone != "" {
		m["zone"] = gceLink("projects/" + f.Project + "/zones/" + o.zone)
		m["selfLink"] = gceLink("projects/" + f.Project + "/zones/" + o.zone + "/operations/" + o.name)
	} else {
		m["selfLink"] = gceLink("projects/" + f.Project + "/global/operations/" + o.name)
	}
	if o.done {
		m["progress"] = 100
		if o.fail != nil {
			m["httpErrorStatusCode"] = o.fail.Status
			m["error"] = map[string]any{"errors": []map[string]string{{"code": o.fail.Reason, "message": o.fail.Message}}}
		}
	}
	return m
}

// opGet answers globalOperations.get (seg: global operations NAME) and
// zoneOperations.get (seg: zones ZONE operations NAME); the OpPolls-th
// poll completes the operation and applies its effect.
func (f *GCE) opGet(w http.ResponseWriter, seg []string) {
	name, zone := seg[len(seg)-1], ""
	if seg[0] == "zones" {
		zone = seg[1]
	}
	o := f.ops[name]
	if o == nil || o.zone != zone {
		gceError(w, 404, "notFound", "The resource 'operations/"+name+"' was not found")
		return
	}
	o.polls++
	if !o.done && o.polls >= max(f.OpPolls, 1) {
		f.complete(o)
	}
	gceJSON(w, f.opJSON(o, ""))
}

func (f *GCE) complete(o *gceOp) {
	o.done = true
	if q := f.opFails[o.kind]; len(q) > 0 {
		f.opFails[o.kind] = q[1:]
		o.fail = &q[0]
	} else {
		o.fail = o.effect()
	}
}

// CompleteOperations finishes every pending operation now, as time does
// on the real service whether or not anyone polls.
func (f *GCE) CompleteOperations() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.ops {
		if !o.done {
			f.complete(o)
		}
	}
}

func (f *GCE) instanceJSON(in *GCEInstance) map[string]any {
	nics := []map[string]any{}
	for _, n := range in.NICs {
		al := []map[string]string{}
		for _, a := range n.Aliases {
			al = append(al, map[string]string{"ipCidrRange": a})
		}
		m := map[string]any{"kind": "compute#networkInterface", "name": n.Name,
			"network":     gceLink("projects/" + f.Project + "/global/networks/" + n.Network),
			"fingerprint": fmt.Sprintf("fp%08d=", n.fingerprint)}
		if len(al) > 0 {
			m["aliasIpRanges"] = al // omitted when empty, as the API does
		}
		nics = append(nics, m)
	}
	return map[string]any{"kind": "compute#instance", "name": in.Name, "status": in.Status,
		"zone":     gceLink("projects/" + f.Project + "/zones/" + in.Zone),
		"selfLink": gceLink("projects/" + f.Project + "/zones/" + in.Zone + "/instances/" + in.Name), "networkInterfaces": nics}
}

func (f *GCE) instanceGet(w http.ResponseWriter, zone, name string) {
	in := f.instances[zone+"/"+name]
	if in == nil {
		gceError(w, 404, "notFound", "The resource 'projects/"+f.Project+"/zones/"+zone+"/instances/"+name+"' was not found")
		return
	}
	gceJSON(w, f.instanceJSON(in))
}

func (f *GCE) aggregatedList(w http.ResponseWriter, r *http.Request) {
	keys := make([]string, 0, len(f.instances))
	for k := range f.instances {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	from, to, next := gcePage(r, len(keys), f.PageSize)
	items := map[string]any{}
	for _, k := range keys[from:to] {
		in := f.instances[k]
		scope, _ := items["zones/"+in.Zone].(map[string]any)
		if scope == nil {
			scope = map[string]any{"instances": []any{}}
			items["zones/"+in.Zone] = scope
		}
		scope["instances"] = append(scope["instances"].([]any), f.instanceJSON(in))
	}
	// A zone without instances is listed with a warning, as the API does.
	items["zones/empty-zone-z"] = map[string]any{"warning": map[string]any{"code": "NO_RESULTS_ON_PAGE",
		"message": "There are no results for scope 'zones/empty-zone-z' on this page."}}
	out := map[string]any{"kind": "compute#instanceAggregatedList", "items": items}
	if next != "" {
		out["nextPageToken"] = next
	}
	gceJSON(w, out)
}

func (f *GCE) updateNIC(w http.ResponseWriter, r *http.Request, zone, name string, body []byte) {
	key := zone + "/" + name
	in := f.instances[key]
	if in == nil {
		gceError(w, 404, "notFound", "The resource 'projects/"+f.Project+"/zones/"+zone+"/instances/"+name+"' was not found")
		return
	}
	nicName := r.URL.Query().Get("networkInterface")
	idx := -1
	for i, n := range in.NICs {
		if n.Name == nicName {
			idx = i
		}
	}
	var req struct {
		Fingerprint   *string `json:"fingerprint"`
		AliasIPRanges *[]struct {
			IPCidrRange string `json:"ipCidrRange"`
		} `json:"aliasIpRanges"`
	}
	switch {
	case idx < 0:
		gceError(w, 400, "invalid", "Invalid value for field 'networkInterface': '"+nicName+"'.")
		return
	case json.Unmarshal(body, &req) != nil:
		gceError(w, 400, "parseError", "Parse Error")
		return
	case req.Fingerprint == nil:
		gceError(w, 400, "required", "Required field 'resource.fingerprint' not specified")
		return
	case *req.Fingerprint != fmt.Sprintf("fp%08d=", in.NICs[idx].fingerprint):
		gceError(w, 412, "conditionNotMet", "Supplied fingerprint does not match current fingerprint.")
		return
	case f.busy[key]:
		gceError(w, 400, "resourceNotReady", "The resource 'projects/"+f.Project+"/zones/"+zone+"/instances/"+name+"' is not ready")
		return
	}
	var want []string
	if req.AliasIPRanges != nil {
		for _, a := range *req.AliasIPRanges {
			if _, err := netip.ParsePrefix(a.IPCidrRange); err != nil {
				if _, err := netip.ParseAddr(a.IPCidrRange); err != nil {
					gceError(w, 400, "invalid", "Invalid value for field 'resource.aliasIpRanges[].ipCidrRange': '"+a.IPCidrRange+"'.")
					return
				}
				a.IPCidrRange += "/32"
			}
			want = append(want, a.IPCidrRange)
		}
	}
	f.busy[key] = true
	gceJSON(w, f.newOp("instances.updateNetworkInterface", zone, "projects/"+f.Project+"/zones/"+zone+"/instances/"+name, func() *GCEFault {
		delete(f.busy, key)
		n := &in.NICs[idx]
		if req.AliasIPRanges == nil {
			return nil // PATCH semantics: left alone
		}
		for _, a := range want {
			if holder := f.holder(n.Network, a, key, n.Name); holder != "" {
				return &GCEFault{Status: 400, Reason: "IP_IN_USE_BY_ANOTHER_RESOURCE",
					Message: "IP '" + a + "' is already being used by another resource."}
			}
		}
		f.seq++
		n.Aliases, n.fingerprint = want, f.seq
		return nil
	}))
}

// holder names the interface other than key/nic on network holding alias.
func (f *GCE) holder(network, alias, key, nic string) string {
	p, _ := netip.ParsePrefix(alias)
	for k, in := range f.instances {
		for _, n := range in.NICs {
			if n.Network != network || (k == key && n.Name == nic) {
				continue
			}
			for _, a := range n.Aliases {
				if q, err := netip.ParsePrefix(a); err == nil && q.Overlaps(p) {
					return k + "/" + n.Name
				}
			}
		}
	}
	return ""
}
