package gcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultMetadataEndpoint is the GCE metadata server. GCE_METADATA_HOST
// (host[:port], the variable Google's libraries honour) overrides it on
// the command line.
const DefaultMetadataEndpoint = "http://metadata.google.internal"

// Metadata reads this instance's identity from the metadata server.
type Metadata struct {
	Endpoint string       // "" = DefaultMetadataEndpoint
	HTTP     *http.Client // nil = no proxy (the server is link-local), 5 s per request
}

// Instance is what the GCP actions need to know about this node.
type Instance struct {
	Name    string // instance name
	Zone    string // e.g. us-central1-a
	Project string // project id (not number)
	Network string // VPC network name of nic0, e.g. default
}

// Instance reads name, zone, project id and nic0's network.
func (m *Metadata) Instance(ctx context.Context) (Instance, error) {
	var raw [4]string
	for i, path := range []string{"instance/name", "instance/zone", "project/project-id", "instance/network-interfaces/0/network"} {
		v, err := m.get(ctx, path)
		if err != nil {
			return Instance{}, err
		}
		raw[i] = v
	}
	return ParseInstance(raw[0], raw[1], raw[2], raw[3])
}

// ParseInstance checks and reduces the metadata server's answers: zone
// and network come as "projects/NUMBER/zones/ZONE" and
// "projects/NUMBER/networks/NAME".
func ParseInstance(name, zone, project, network string) (Instance, error) {
	in := Instance{Name: name, Project: project}
	var err error
	if in.Zone, err = pathValue(zone, "zones"); err != nil {
		return Instance{}, fmt.Errorf("metadata instance/zone: %w", err)
	}
	if in.Network, err = pathValue(network, "networks"); err != nil {
		return Instance{}, fmt.Errorf("metadata network-interfaces/0/network: %w", err)
	}
	if !ValidName(in.Name) {
		return Instance{}, fmt.Errorf("metadata instance/name: %q is not a Compute Engine name", name)
	}
	if !validProject(in.Project) {
		return Instance{}, fmt.Errorf("metadata project/project-id: %q is not a project id", project)
	}
	return in, nil
}

// pathValue returns NAME from "projects/X/<kind>/NAME", a valid name.
func pathValue(s, kind string) (string, error) {
	f := strings.Split(s, "/")
	if len(f) != 4 || f[0] != "projects" || f[1] == "" || f[2] != kind || !ValidName(f[3]) {
		return "", fmt.Errorf("%q is not projects/ID/%s/NAME", s, kind)
	}
	return f[3], nil
}

// ValidName reports whether s follows Compute Engine's resource name rule
// (RFC 1035 label): [a-z]([-a-z0-9]{0,61}[a-z0-9])?
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// validProject accepts project ids (6-30 characters of [a-z0-9-], starting
// with a letter) and the older domain-scoped form "example.com:name".
func validProject(s string) bool {
	if dom, id, ok := strings.Cut(s, ":"); ok {
		return dom != "" && !strings.ContainsAny(dom, "/?#% ") && validProject(id)
	}
	return len(s) >= 6 && len(s) <= 30 && ValidName(s)
}

// ValidProject is validProject for flag checks.
func ValidProject(s string) bool { return validProject(s) }

// get reads one metadata value. The request carries Metadata-Flavor:
// Google (the server refuses requests without it, which keeps a
// server-side request forgery from reading it) and the answer must carry
// it too: anything else answering on that address is not the metadata
// server.
func (m *Metadata) get(ctx context.Context, path string) (string, error) {
	base := m.Endpoint
	if base == "" {
		base = DefaultMetadataEndpoint
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/computeMetadata/v1/"+path, nil)
	if err != nil {
		return "", fmt.Errorf("metadata %s: %w", path, err)
	}
	req.Header.Set("Metadata-Flavor", "Google")
	hc := m.HTTP
	if hc == nil {
		// The server answers in milliseconds; 5 s bounds start-up on a
		// host where the name resolves but nothing answers.
		hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("metadata %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Metadata-Flavor") != "Google" {
		return "", fmt.Errorf("metadata %s: answer without Metadata-Flavor: Google (not a GCE metadata server)", path)
	}
	// Values are names and paths; 64 KiB is a generous bound.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("metadata %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("metadata %s: HTTP %d", path, resp.StatusCode)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", errors.New("metadata " + path + ": empty")
	}
	return v, nil
}
