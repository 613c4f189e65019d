// How the ARM fake serves a request: bearer token check, injected faults,
// the ARM error document and route URL parsing.

package cloudtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func azureKey(sub, rg, table string) string {
	return strings.ToLower(sub + "/" + rg + "/" + table)
}

func (f *AzureARM) serve(w http.ResponseWriter, r *http.Request) {
	kind := "route"
	if strings.Contains(r.URL.Path, "/operations/") {
		kind = "operation"
	}
	status := f.serveInner(w, r, kind)
	f.mu.Lock()
	f.reqs = append(f.reqs, AzureRequest{Method: r.Method, Path: r.URL.Path, Status: status})
	f.mu.Unlock()
}

func (f *AzureARM) takeFault(method, kind string) (AzureFault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.faults {
		ft := &f.faults[i]
		if ft.Count <= 0 || (ft.Method != "" && ft.Method != method) || (ft.Kind != "" && ft.Kind != kind) {
			continue
		}
		ft.Count--
		out := *ft
		if ft.Count == 0 {
			f.faults = append(f.faults[:i], f.faults[i+1:]...)
		}
		return out, true
	}
	return AzureFault{}, false
}

func azureWriteError(w http.ResponseWriter, status int, code, msg string) int {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-failure-cause", "gateway")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]AzureError{"error": {Code: code, Message: msg}})
	return status
}

func azureRetryAfterSeconds(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(s)
}

func (f *AzureARM) serveInner(w http.ResponseWriter, r *http.Request, kind string) int {
	if ft, ok := f.takeFault(r.Method, kind); ok {
		if ft.Delay > 0 {
			select {
			case <-time.After(ft.Delay):
			case <-r.Context().Done():
				return 499 // client went away; nothing is written
			}
		}
		if ft.Status != 0 {
			if ft.RetryAfter > 0 {
				w.Header().Set("Retry-After", azureRetryAfterSeconds(ft.RetryAfter))
			}
			return azureWriteError(w, ft.Status, ft.Error.Code, ft.Error.Message)
		}
	}
	if r.Header.Get("Authorization") != "Bearer "+AzureTestToken {
		return azureWriteError(w, http.StatusUnauthorized, "AuthenticationFailed",
			"Authentication failed. The 'Authorization' header is missing or has an invalid value.")
	}
	if r.URL.Query().Get("api-version") == "" {
		return azureWriteError(w, http.StatusBadRequest, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests.")
	}
	if kind == "operation" {
		return f.serveOperation(w, r)
	}
	return f.serveRoute(w, r)
}

// azureParseRoutePath splits
// /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/routeTables/{rt}/routes/{name}.
func azureParseRoutePath(p string) (sub, rg, table, route string, ok bool) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if len(parts) != 10 ||
		!strings.EqualFold(parts[0], "subscriptions") ||
		!strings.EqualFold(parts[2], "resourceGroups") ||
		!strings.EqualFold(parts[4], "providers") ||
		!strings.EqualFold(parts[5], "Microsoft.Network") ||
		!strings.EqualFold(parts[6], "routeTables") ||
		!strings.EqualFold(parts[8], "routes") {
		return "", "", "", "", false
	}
	return parts[1], parts[3], parts[7], parts[9], true
}
