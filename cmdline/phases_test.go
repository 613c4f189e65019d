package cmdline

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A bad flag of one part exits 2 before another part's instance-metadata
// look-up: run validates every flag first (phase 1), then resolves.
func TestBadFlagBeforeMetadataLookup(t *testing.T) {
	var hits atomic.Int32
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "not here", http.StatusNotFound)
	}))
	defer imds.Close()
	t.Setenv("LBHC_STATE_DIR", t.TempDir())
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"azure flag after AWS action", []string{"run", "--vip", "10.0.0.5", "--vip-interface", "lo", "--ec2-route", "--aws-imds-endpoint", imds.URL,
			"--azure-route-table", "rt", "--azure-imds-endpoint", imds.URL, "--azure-route-attempts", "0"},
			"invalid --azure-route-attempts: must be at least 1, got 0"},
		{"hook flag after AWS action", []string{"run", "--vip", "10.0.0.5", "--vip-interface", "lo", "--ec2-route", "--aws-imds-endpoint", imds.URL,
			"--hook-timeout", "0s", "--on-promote", "true"},
			"invalid --hook-timeout: must be positive, got 0s"},
		{"route action without a VIP", []string{"run", "--ec2-route", "--aws-imds-endpoint", imds.URL},
			"invalid --vip: required by the ec2-route action (the routes point VIP/32 at this node)"},
		{"gcp route without a VIP", []string{"run", "--gcp-route", "--gcp-metadata-endpoint", imds.URL},
			"invalid --vip: required by the gcp-route action (the routes point VIP/32 at this node)"},
		{"gcp flag after AWS action", []string{"run", "--vip", "10.0.0.5", "--vip-interface", "lo", "--ec2-route", "--aws-imds-endpoint", imds.URL,
			"--gcp-alias-ip-range", "10.0.0.0/8x"},
			`invalid --gcp-alias-ip-range: "10.0.0.0/8x" is not an IPv4 CIDR range like 10.0.1.5/32 (alias IP ranges are IPv4 only)`},
		{"etcd flag after AWS action", []string{"run", "--vip", "10.0.0.5", "--vip-interface", "lo", "--ec2-route", "--aws-imds-endpoint", imds.URL,
			"--election", "etcd", "--etcd-prefix", "nope"},
			`invalid --etcd-prefix: "nope" must start with /`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, code, _ := runApp(t, tc.args...)
			if code != 2 || err == nil || err.Error() != tc.want {
				t.Fatalf("err %v (exit %d), want exit 2 with %q", err, code, tc.want)
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("instance metadata asked %d times before the bad flag was reported", n)
			}
		})
	}
}
