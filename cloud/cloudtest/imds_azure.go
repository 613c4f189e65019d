package cloudtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// AzureIMDS is a fake of the Azure Instance Metadata Service endpoint
// GET /metadata/instance?api-version=…, written from Microsoft's public IMDS
// documentation; it is not Microsoft code. Like the real service it answers
// 400 when the "Metadata: true" header or the api-version parameter is
// missing, and when the request carries X-Forwarded-For (IMDS refuses
// proxied requests). The JSON has the documented shape (compute.*,
// network.interface[].ipv4.ipAddress[].privateIpAddress); only the fields
// lbhc reads plus a few neighbours are filled in.
type AzureIMDS struct {
	srv *httptest.Server

	mu        sync.Mutex
	inst      AzureInstanceData
	failNext  int
	failCode  int
	delayNext time.Duration
	requests  atomic.Int64
	events    azureEvents // Scheduled Events (azevents.go)
}

// AzureInstanceData is what the fake reports.
type AzureInstanceData struct {
	Name           string
	Location       string
	SubscriptionID string
	ResourceGroup  string
	VMID           string
	PrivateIPs     []string // of the primary NIC, primary address first
	PrivateIPv6s   []string
}

// NewAzureIMDS starts the fake on 127.0.0.1 (plain HTTP, like IMDS);
// callers stop it with Close.
func NewAzureIMDS(inst AzureInstanceData) *AzureIMDS {
	f := &AzureIMDS{inst: inst}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the base URL (http://127.0.0.1:port) to use instead of
// http://169.254.169.254.
func (f *AzureIMDS) URL() string { return f.srv.URL }

// Close stops the server.
func (f *AzureIMDS) Close() { f.srv.Close() }

// Requests is the number of requests received.
func (f *AzureIMDS) Requests() int { return int(f.requests.Load()) }

// FailNext answers the next n requests with status (e.g. 429 when IMDS
// throttles above 5 requests per second, 500, 503).
func (f *AzureIMDS) FailNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext, f.failCode = n, status
}

// DelayNext delays the next response by d (a slow IMDS).
func (f *AzureIMDS) DelayNext(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delayNext = d
}

func azureIMDSError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (f *AzureIMDS) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	delay := f.delayNext
	f.delayNext = 0
	fail := 0
	if f.failNext > 0 {
		f.failNext--
		fail = f.failCode
	}
	inst := f.inst
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		azureIMDSError(w, fail, http.StatusText(fail))
		return
	}
	switch {
	case r.URL.Path == "/metadata/scheduledevents" && r.Header.Get("Metadata") == "true" && r.URL.Query().Get("api-version") != "" && r.Header.Get("X-Forwarded-For") == "":
		f.serveEvents(w, r)
	case r.URL.Path != "/metadata/instance" && r.URL.Path != "/metadata/scheduledevents":
		azureIMDSError(w, http.StatusNotFound, "Not found")
	case r.Header.Get("X-Forwarded-For") != "":
		azureIMDSError(w, http.StatusBadRequest, "Bad request. Proxied requests are not allowed.")
	case r.Header.Get("Metadata") != "true":
		azureIMDSError(w, http.StatusBadRequest, "Bad request. Required metadata header not specified")
	case r.URL.Query().Get("api-version") == "":
		azureIMDSError(w, http.StatusBadRequest, "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds")
	case r.Method != http.MethodGet:
		azureIMDSError(w, http.StatusMethodNotAllowed, "Method not allowed")
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(azureIMDSDoc(inst))
	}
}

func azureIMDSDoc(inst AzureInstanceData) map[string]any {
	type addr struct {
		Private string `json:"privateIpAddress"`
		Public  string `json:"publicIpAddress"`
	}
	v4 := []addr{}
	for _, a := range inst.PrivateIPs {
		v4 = append(v4, addr{Private: a})
	}
	v6 := []addr{}
	for _, a := range inst.PrivateIPv6s {
		v6 = append(v6, addr{Private: a})
	}
	return map[string]any{
		"compute": map[string]any{
			"azEnvironment":     "AzurePublicCloud",
			"location":          inst.Location,
			"name":              inst.Name,
			"osType":            "Linux",
			"resourceGroupName": inst.ResourceGroup,
			"resourceId": "/subscriptions/" + inst.SubscriptionID + "/resourceGroups/" +
				inst.ResourceGroup + "/providers/Microsoft.Compute/virtualMachines/" + inst.Name,
			"subscriptionId": inst.SubscriptionID,
			"vmId":           inst.VMID,
			"vmSize":         "Standard_D2s_v3",
		},
		"network": map[string]any{
			"interface": []any{map[string]any{
				"ipv4": map[string]any{
					"ipAddress": v4,
					"subnet":    []any{map[string]string{"address": "10.0.0.0", "prefix": "24"}},
				},
				"ipv6":       map[string]any{"ipAddress": v6},
				"macAddress": "000D3AF806EC",
			}},
		},
	}
}
