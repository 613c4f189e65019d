package cloudtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// GCEMetadata is a FAKE of the GCE metadata server's /computeMetadata/v1/
// tree, written from Google's published documentation; it is not Google
// code. Like the real server it answers 403 to a request without the
// "Metadata-Flavor: Google" header and sets that header on every answer
// (clients check it to know they reached the metadata server); an unknown
// path is 404. Values are plain text. It serves what lbhc reads plus a
// service-account token (a fixed fake value).
type GCEMetadata struct {
	srv *httptest.Server

	mu       sync.Mutex
	values   map[string]string // path under /computeMetadata/v1/ -> value
	noFlavor bool
	requests int
}

// GCEMetadataFor returns the values of an instance in the shapes the real
// server uses (zone and network as projects/NUMBER/... paths).
func GCEMetadataFor(project, number, zone, name, network string) map[string]string {
	return map[string]string{
		"instance/name":                         name,
		"instance/zone":                         "projects/" + number + "/zones/" + zone,
		"instance/id":                           "4820386937451223451",
		"project/project-id":                    project,
		"project/numeric-project-id":            number,
		"instance/network-interfaces/0/network": "projects/" + number + "/networks/" + network,
		"instance/network-interfaces/0/ip":      "10.128.0.2",
		"instance/service-accounts/default/token": `{"access_token":"ya29.fake-gce-metadata-token",` +
			`"expires_in":3599,"token_type":"Bearer"}`,
	}
}

// NewGCEMetadata starts the fake on 127.0.0.1 (plain HTTP, like the real
// server); stop it with Close.
func NewGCEMetadata(values map[string]string) *GCEMetadata {
	f := &GCEMetadata{values: values}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the base URL to use instead of http://metadata.google.internal.
func (f *GCEMetadata) URL() string { return f.srv.URL }

// Close stops the server.
func (f *GCEMetadata) Close() { f.srv.Close() }

// Requests is the number of requests received.
func (f *GCEMetadata) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Impostor makes the server stop setting Metadata-Flavor on answers: what
// a different server on that address would look like.
func (f *GCEMetadata) Impostor() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noFlavor = true
}

func (f *GCEMetadata) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if !f.noFlavor {
		w.Header().Set("Metadata-Flavor", "Google")
	}
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "Request had X-Forwarded-For header.", http.StatusForbidden)
		return
	}
	v, ok := f.values[strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/")]
	if !ok || !strings.HasPrefix(r.URL.Path, "/computeMetadata/v1/") {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	if strings.HasPrefix(v, "{") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/text")
	}
	_, _ = w.Write([]byte(v))
}
