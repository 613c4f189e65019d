// Routes in the ARM fake: GET and PUT of a route (PUT answers 201 with an
// asynchronous operation) and the operation's status URL.

package cloudtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

type azureRouteJSON struct {
	ID         string              `json:"id,omitempty"`
	Name       string              `json:"name,omitempty"`
	Etag       string              `json:"etag,omitempty"`
	Type       string              `json:"type,omitempty"`
	Properties azureRoutePropsJSON `json:"properties"`
}

type azureRoutePropsJSON struct {
	ProvisioningState string `json:"provisioningState,omitempty"`
	AddressPrefix     string `json:"addressPrefix,omitempty"`
	NextHopType       string `json:"nextHopType,omitempty"`
	NextHopIPAddress  string `json:"nextHopIpAddress,omitempty"`
	HasBgpOverride    *bool  `json:"hasBgpOverride,omitempty"`
}

func (f *AzureARM) routeJSON(t *azureTable, lname string) azureRouteJSON {
	r := t.routes[lname]
	name := t.routeNames[lname]
	no := false
	return azureRouteJSON{
		ID: "/subscriptions/" + t.sub + "/resourceGroups/" + t.rg +
			"/providers/Microsoft.Network/routeTables/" + t.name + "/routes/" + name,
		Name: name,
		Etag: r.Etag,
		Type: "Microsoft.Network/routeTables/routes",
		Properties: azureRoutePropsJSON{
			ProvisioningState: r.ProvisioningState,
			AddressPrefix:     r.AddressPrefix,
			NextHopType:       r.NextHopType,
			NextHopIPAddress:  r.NextHopIPAddress,
			HasBgpOverride:    &no,
		},
	}
}

var azureNextHopTypes = []string{"VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None"}

func (f *AzureARM) serveRoute(w http.ResponseWriter, r *http.Request) int {
	sub, rg, table, route, ok := azureParseRoutePath(r.URL.Path)
	if !ok {
		return azureWriteError(w, http.StatusNotFound, "InvalidResourceType",
			"The resource type could not be found in the namespace for api version.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[azureKey(sub, rg, table)]
	if t == nil {
		return azureWriteError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf(
			"The Resource 'Microsoft.Network/routeTables/%s' under resource group '%s' was not found.", table, rg))
	}
	lname := strings.ToLower(route)
	switch r.Method {
	case http.MethodGet:
		if t.routes[lname] == nil {
			return azureWriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf(
				"Resource %s not found.", r.URL.Path))
		}
		return azureWriteJSON(w, http.StatusOK, f.routeJSON(t, lname), nil)
	case http.MethodPut:
		var body azureRouteJSON
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			return azureWriteError(w, http.StatusBadRequest, "InvalidRequestFormat",
				"Cannot parse the request: "+err.Error())
		}
		p := body.Properties
		if _, err := netip.ParsePrefix(p.AddressPrefix); err != nil {
			return azureWriteError(w, http.StatusBadRequest, "InvalidRouteAddressPrefix", fmt.Sprintf(
				"Route %s has an invalid AddressPrefix %s.", route, p.AddressPrefix))
		}
		validType := false
		for _, v := range azureNextHopTypes {
			validType = validType || v == p.NextHopType
		}
		if !validType {
			return azureWriteError(w, http.StatusBadRequest, "InvalidRequestFormat", fmt.Sprintf(
				"Cannot parse the request: invalid nextHopType %q.", p.NextHopType))
		}
		if p.NextHopType == "VirtualAppliance" {
			if _, err := netip.ParseAddr(p.NextHopIPAddress); err != nil {
				return azureWriteError(w, http.StatusBadRequest, "InvalidRouteNextHopIpAddress", fmt.Sprintf(
					"Route %s has an invalid next hop IP address %s.", route, p.NextHopIPAddress))
			}
		} else if p.NextHopIPAddress != "" {
			return azureWriteError(w, http.StatusBadRequest, "NextHopIpAddressNotAllowed", fmt.Sprintf(
				"Route %s: next hop IP address is allowed only with next hop type VirtualAppliance.", route))
		}
		status := http.StatusOK
		if t.routes[lname] == nil {
			status = http.StatusCreated
			t.routeNames[lname] = route
		}
		f.etagSeq++
		t.routes[lname] = &AzureRoute{
			AddressPrefix:     p.AddressPrefix,
			NextHopType:       p.NextHopType,
			NextHopIPAddress:  p.NextHopIPAddress,
			ProvisioningState: "Updating",
			Etag:              fmt.Sprintf(`W/"%08d-0000-0000-0000-000000000000"`, f.etagSeq),
		}
		f.nextOp++
		id := fmt.Sprintf("%08d-1111-2222-3333-444444444444", f.nextOp)
		f.ops[id] = &azureOp{tableKey: azureKey(sub, rg, table), route: lname, failed: f.failOp}
		f.failOp = nil
		hdr := http.Header{}
		scheme := "https"
		if r.TLS == nil {
			scheme = "http"
		}
		hdr.Set("Azure-AsyncOperation", fmt.Sprintf(
			"%s://%s/subscriptions/%s/providers/Microsoft.Network/locations/%s/operations/%s?api-version=%s",
			scheme, r.Host, sub, t.location, id, r.URL.Query().Get("api-version")))
		if f.AsyncRetryAfter > 0 {
			hdr.Set("Retry-After", azureRetryAfterSeconds(f.AsyncRetryAfter))
		}
		return azureWriteJSON(w, status, f.routeJSON(t, lname), hdr)
	default:
		return azureWriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The requested method is not allowed for this resource.")
	}
}

func (f *AzureARM) serveOperation(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet {
		return azureWriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The requested method is not allowed for this resource.")
	}
	id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	op := f.ops[id]
	if op == nil {
		return azureWriteError(w, http.StatusNotFound, "OperationNotFound",
			"The operation '"+id+"' could not be found.")
	}
	if op.polls < f.AsyncPolls && !op.done {
		op.polls++
		hdr := http.Header{}
		if f.AsyncRetryAfter > 0 {
			hdr.Set("Retry-After", azureRetryAfterSeconds(f.AsyncRetryAfter))
		}
		return azureWriteJSON(w, http.StatusOK, map[string]string{"status": "InProgress"}, hdr)
	}
	if !op.done {
		op.done = true
		if t := f.tables[op.tableKey]; t != nil && t.routes[op.route] != nil {
			if op.failed != nil {
				t.routes[op.route].ProvisioningState = "Failed"
			} else {
				t.routes[op.route].ProvisioningState = "Succeeded"
			}
		}
	}
	if op.failed != nil {
		return azureWriteJSON(w, http.StatusOK, map[string]any{"status": "Failed", "error": op.failed}, nil)
	}
	return azureWriteJSON(w, http.StatusOK, map[string]string{"status": "Succeeded"}, nil)
}

func azureWriteJSON(w http.ResponseWriter, status int, v any, hdr http.Header) int {
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}
