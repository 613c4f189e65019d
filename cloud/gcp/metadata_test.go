package gcp

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/lbhc/lbhc/cloud/cloudtest"
)

func TestMetadataInstance(t *testing.T) {
	f := cloudtest.NewGCEMetadata(cloudtest.GCEMetadataFor("lbhc-test-1", "123456789012", "europe-west1-b", "node-a", "vpc-a"))
	defer f.Close()
	in, err := (&Metadata{Endpoint: f.URL()}).Instance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Instance{Name: "node-a", Zone: "europe-west1-b", Project: "lbhc-test-1", Network: "vpc-a"}
	if in != want {
		t.Fatalf("Instance = %+v, want %+v", in, want)
	}
}

// The fake, like the real server, refuses a request without the header;
// an answer without the header is not from the metadata server.
func TestMetadataFlavorHeaderBothWays(t *testing.T) {
	f := cloudtest.NewGCEMetadata(cloudtest.GCEMetadataFor("lbhc-test-1", "1", "z", "n", "default"))
	defer f.Close()
	resp, err := http.Get(f.URL() + "/computeMetadata/v1/instance/name")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("request without Metadata-Flavor answered %d, want 403", resp.StatusCode)
	}
	f.Impostor()
	_, err = (&Metadata{Endpoint: f.URL()}).Instance(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Metadata-Flavor") {
		t.Fatalf("Instance from a server without the answer header = %v", err)
	}
}

func TestMetadataMissingValue(t *testing.T) {
	v := cloudtest.GCEMetadataFor("lbhc-test-1", "1", "z", "n", "default")
	delete(v, "instance/network-interfaces/0/network")
	f := cloudtest.NewGCEMetadata(v)
	defer f.Close()
	if _, err := (&Metadata{Endpoint: f.URL()}).Instance(context.Background()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Instance without a network = %v", err)
	}
}

func TestParseInstance(t *testing.T) {
	for _, c := range []struct {
		name, zone, project, network string
		ok                           bool
	}{
		{"vm-1", "projects/1/zones/us-east1-b", "my-project", "projects/1/networks/default", true},
		{"vm-1", "projects/1/zones/us-east1-b", "example.com:my-project", "projects/1/networks/default", true},
		{"vm-1", "us-east1-b", "my-project", "projects/1/networks/default", false},
		{"vm-1", "projects/1/zones/us-east1-b", "my-project", "projects/1/networks/../x", false},
		{"VM-1", "projects/1/zones/us-east1-b", "my-project", "projects/1/networks/default", false},
		{"vm-1", "projects/1/zones/us-east1-b", "short", "projects/1/networks/default", false},
		{"vm-1", "projects/1/zones/us-east1-b/x", "my-project", "projects/1/networks/default", false},
	} {
		_, err := ParseInstance(c.name, c.zone, c.project, c.network)
		if (err == nil) != c.ok {
			t.Errorf("ParseInstance(%q, %q, %q, %q) = %v, want ok=%v", c.name, c.zone, c.project, c.network, err, c.ok)
		}
	}
}
