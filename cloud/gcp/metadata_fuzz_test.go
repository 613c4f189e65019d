package gcp

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseInstance: whatever the metadata server answers, a parsed
// identity has names that are safe to put into a Compute Engine URL path
// unescaped (no "/", "..", "?", "%") and that follow the name rules.
func FuzzParseInstance(f *testing.F) {
	f.Add("vm-1", "projects/123/zones/us-central1-a", "my-project", "projects/123/networks/default")
	f.Add("vm-1", "projects/123/zones/../../x", "example.com:p-123456", "projects/123/networks/a/b")
	f.Add("", "projects//zones/z", "p:", "projects/1/networks/")
	f.Fuzz(func(t *testing.T, name, zone, project, network string) {
		in, err := ParseInstance(name, zone, project, network)
		if err != nil {
			return
		}
		for _, v := range []string{in.Name, in.Zone, in.Network} {
			if !ValidName(v) || url.PathEscape(v) != v {
				t.Fatalf("ParseInstance accepted %+v: %q is not a plain name", in, v)
			}
		}
		if !ValidProject(in.Project) || strings.ContainsAny(in.Project, "/?#%") {
			t.Fatalf("ParseInstance accepted project %q", in.Project)
		}
	})
}
