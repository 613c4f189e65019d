package cloudtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// gceDo sends one request to the fake and decodes the answer.
func gceDo(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func gceReason(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	errs, _ := e["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	first, _ := errs[0].(map[string]any)
	r, _ := first["reason"].(string)
	return r
}

// The interface-update rules the actions depend on: fingerprint required
// (400) and current (412), one update at a time (400 resourceNotReady),
// the change visible only when the operation is DONE, and PATCH semantics.
func TestGCEFakeUpdateNetworkInterfaceRules(t *testing.T) {
	f := NewGCE("p-test-1")
	defer f.Close()
	f.AddInstance(GCEInstance{Name: "vm", Zone: "z", NICs: []GCENIC{{Name: "nic0", Network: "net", Aliases: []string{"10.0.0.9/32"}}}})
	base := f.URL() + "projects/p-test-1/zones/z/instances/vm"
	_, in := gceDo(t, http.MethodGet, base, "")
	fp := in["networkInterfaces"].([]any)[0].(map[string]any)["fingerprint"].(string)
	upd := base + "/updateNetworkInterface?networkInterface=nic0"

	if code, m := gceDo(t, http.MethodPatch, upd, `{"aliasIpRanges":[]}`); code != 400 || gceReason(m) != "required" {
		t.Fatalf("without a fingerprint: %d %v", code, m)
	}
	if code, m := gceDo(t, http.MethodPatch, upd, `{"fingerprint":"stale=","aliasIpRanges":[]}`); code != 412 || gceReason(m) != "conditionNotMet" {
		t.Fatalf("stale fingerprint: %d %v", code, m)
	}
	code, op := gceDo(t, http.MethodPatch, upd, `{"fingerprint":"`+fp+`","aliasIpRanges":[{"ipCidrRange":"10.0.0.7"}]}`)
	if code != 200 || op["status"] != "PENDING" || !strings.HasSuffix(op["zone"].(string), "/zones/z") {
		t.Fatalf("update: %d %v", code, op)
	}
	if code, m := gceDo(t, http.MethodPatch, upd, `{"fingerprint":"`+fp+`"}`); code != 400 || gceReason(m) != "resourceNotReady" {
		t.Fatalf("second update while the first is pending: %d %v", code, m)
	}
	if got, _ := f.Instance("z", "vm"); got.NICs[0].Aliases[0] != "10.0.0.9/32" {
		t.Fatalf("aliases changed before the operation is DONE: %v", got.NICs[0].Aliases)
	}
	opURL := f.URL() + "projects/p-test-1/zones/z/operations/" + op["name"].(string)
	if _, m := gceDo(t, http.MethodGet, opURL, ""); m["status"] != "RUNNING" {
		t.Fatalf("first poll: %v", m)
	}
	if _, m := gceDo(t, http.MethodGet, opURL, ""); m["status"] != "DONE" || m["error"] != nil {
		t.Fatalf("second poll: %v", m)
	}
	got, _ := f.Instance("z", "vm")
	if len(got.NICs[0].Aliases) != 1 || got.NICs[0].Aliases[0] != "10.0.0.7/32" {
		t.Fatalf("aliases after DONE: %v", got.NICs[0].Aliases)
	}
	// PATCH semantics: no aliasIpRanges field leaves them alone.
	_, in = gceDo(t, http.MethodGet, base, "")
	fp2 := in["networkInterfaces"].([]any)[0].(map[string]any)["fingerprint"].(string)
	if fp2 == fp {
		t.Fatal("the fingerprint did not change with the update")
	}
	_, op = gceDo(t, http.MethodPatch, upd, `{"fingerprint":"`+fp2+`"}`)
	f.CompleteOperations()
	if got, _ := f.Instance("z", "vm"); len(got.NICs[0].Aliases) != 1 {
		t.Fatalf("an update without aliasIpRanges changed them: %v (op %v)", got.NICs[0].Aliases, op["name"])
	}
}

// Routes: name rule, a taken name, and a route that appears only when its
// insert operation is DONE.
func TestGCEFakeRouteRules(t *testing.T) {
	f := NewGCE("p-test-1")
	defer f.Close()
	f.OpPolls = 1
	f.AddNetwork("net")
	f.AddInstance(GCEInstance{Name: "vm", Zone: "z", NICs: []GCENIC{{Name: "nic0", Network: "net"}}})
	routes := f.URL() + "projects/p-test-1/global/routes"
	body := func(name string) string {
		return `{"name":"` + name + `","network":"https://www.googleapis.com/compute/v1/projects/p-test-1/global/networks/net",` +
			`"destRange":"10.9.0.1/32","priority":1000,"nextHopInstance":"projects/p-test-1/zones/z/instances/vm"}`
	}
	if code, m := gceDo(t, http.MethodPost, routes, body("Bad_Name")); code != 400 || gceReason(m) != "invalid" {
		t.Fatalf("invalid name: %d %v", code, m)
	}
	code, op := gceDo(t, http.MethodPost, routes, body("r1"))
	if code != 200 || op["zone"] != nil {
		t.Fatalf("insert: %d %v", code, op)
	}
	if code, _ := gceDo(t, http.MethodGet, routes+"/r1", ""); code != 404 {
		t.Fatalf("route readable before its operation is DONE: %d", code)
	}
	if code, m := gceDo(t, http.MethodPost, routes, body("r1")); code != 409 || gceReason(m) != "alreadyExists" {
		t.Fatalf("insert of a pending name: %d %v", code, m)
	}
	if _, m := gceDo(t, http.MethodGet, f.URL()+"projects/p-test-1/global/operations/"+op["name"].(string), ""); m["status"] != "DONE" {
		t.Fatalf("poll: %v", m)
	}
	if code, m := gceDo(t, http.MethodGet, routes+"/r1", ""); code != 200 || !strings.HasSuffix(m["nextHopInstance"].(string), "/zones/z/instances/vm") {
		t.Fatalf("route after DONE: %d %v", code, m)
	}
}
