package cmdline

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

// runGCPFlags parses args with gcpFlags (plus --lease-name, --node-id) and
// calls gcpParse and gcpActions, the VIPs given as vips.
func runGCPFlags(t *testing.T, vips []netip.Prefix, args ...string) ([]cloud.Action, error) {
	t.Helper()
	var acts []cloud.Action
	app := &cli.App{
		Name: "lbhc",
		Flags: append(gcpFlags(), &cli.StringFlag{Name: "lease-name", Value: "lbhc"},
			&cli.StringFlag{Name: "node-id", Value: "a"}),
		Writer:         io.Discard,
		ErrWriter:      io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			s, err := gcpParse(c, vips)
			if err != nil {
				return err
			}
			acts, err = gcpActions(c.Context, c, s, slog.New(slog.NewTextHandler(t.Output(), nil)), cloud.NewMetrics(nil))
			return err
		},
	}
	err := app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	return acts, err
}

func gcpTestMetadata(t *testing.T) *cloudtest.GCEMetadata {
	t.Setenv("GCE_METADATA_HOST", "")
	f := cloudtest.NewGCEMetadata(cloudtest.GCEMetadataFor("lbhc-test-1", "123456789012", "z-a", "node-a", "vpc-a"))
	t.Cleanup(f.Close)
	return f
}

func TestGCPFlagsNoneSet(t *testing.T) {
	md := gcpTestMetadata(t)
	acts, err := runGCPFlags(t, nil, "--gcp-metadata-endpoint", md.URL())
	if err != nil || len(acts) != 0 {
		t.Fatalf("got %v, %v", acts, err)
	}
	if n := md.Requests(); n != 0 {
		t.Errorf("%d metadata requests without a GCP action", n)
	}
}

func TestGCPFlagErrors(t *testing.T) {
	md := gcpTestMetadata(t)
	v6 := []netip.Prefix{netip.MustParsePrefix("fd00::5/128")}
	for _, tc := range []struct {
		args []string
		vips []netip.Prefix
		want string
	}{
		{[]string{"--gcp-alias-ip-range", "10.0.0.5"}, nil, `invalid --gcp-alias-ip-range: "10.0.0.5" is not an IPv4 CIDR range like 10.0.1.5/32 (alias IP ranges are IPv4 only)`},
		{[]string{"--gcp-alias-ip-range", "10.0.0.5/24"}, nil, `invalid --gcp-alias-ip-range: "10.0.0.5/24" is not an IPv4 CIDR range like 10.0.1.5/32 (alias IP ranges are IPv4 only)`},
		{[]string{"--gcp-alias-ip"}, v6, "invalid --vip: fd00::5/128: alias IP ranges are IPv4 only (--gcp-alias-ip)"},
		{[]string{"--gcp-route", "--gcp-zone", "Europe_West1"}, nil, `invalid --gcp-zone: "Europe_West1" is not a Compute Engine name (lower-case letters, digits and '-', starting with a letter, at most 63)`},
		{[]string{"--gcp-route", "--gcp-network", "vpc/../x"}, nil, `invalid --gcp-network: "vpc/../x" is not a Compute Engine name (lower-case letters, digits and '-', starting with a letter, at most 63)`},
		{[]string{"--gcp-route", "--gcp-project", "ab"}, nil, `invalid --gcp-project: "ab" is not a project id (6-30 lower-case letters, digits and '-')`},
		{[]string{"--gcp-route", "--gcp-compute-endpoint", "http://10.1.2.3/compute/v1/"}, nil, `invalid --gcp-compute-endpoint: "http://10.1.2.3/compute/v1/" uses plain http; only loopback addresses may (the bearer token would travel in clear text)`},
		{[]string{"--gcp-route", "--gcp-metadata-endpoint", "metadata.google.internal"}, nil, `invalid --gcp-metadata-endpoint: "metadata.google.internal" is not an http(s) URL`},
		{[]string{"--gcp-route", "--gcp-operation-poll-interval", "1ms"}, nil, "invalid --gcp-operation-poll-interval: must be at least 10ms, got 1ms"},
	} {
		_, err := runGCPFlags(t, tc.vips, append([]string{"--gcp-metadata-endpoint", md.URL()}, tc.args...)...)
		if err == nil || err.Error() != tc.want || exitCode(err) != 2 {
			t.Errorf("%v: err = %v (exit %d), want %q (exit 2)", tc.args, err, exitCode(err), tc.want)
		}
	}
	if n := md.Requests(); n != 0 {
		t.Errorf("%d metadata requests for invalid flags", n)
	}
}

func TestGCPFlagsMetadataFailureNamesFlag(t *testing.T) {
	md := gcpTestMetadata(t)
	md.Impostor()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--gcp-route"}, "gcp-project"},
		{[]string{"--gcp-route", "--gcp-project", "lbhc-test-1"}, "gcp-zone"},
		{[]string{"--gcp-alias-ip", "--gcp-project", "lbhc-test-1", "--gcp-zone", "z-a"}, "gcp-instance"},
		{[]string{"--gcp-alias-ip", "--gcp-project", "lbhc-test-1", "--gcp-zone", "z-a", "--gcp-instance", "node-a"}, "gcp-network"},
	} {
		_, err := runGCPFlags(t, nil, append([]string{"--gcp-metadata-endpoint", md.URL()}, tc.args...)...)
		want := "invalid --" + tc.flag + ": not set, and GCE instance metadata failed (outside Google Cloud give it explicitly): " +
			"metadata instance/name: answer without Metadata-Flavor: Google (not a GCE metadata server)"
		if err == nil || err.Error() != want || exitCode(err) != 2 {
			t.Errorf("%v: err = %v, want %q", tc.args, err, want)
		}
	}
	// Everything given: no metadata request at all.
	before := md.Requests()
	acts, err := runGCPFlags(t, nil, "--gcp-metadata-endpoint", md.URL(), "--gcp-route", "--gcp-project", "lbhc-test-1",
		"--gcp-zone", "z-a", "--gcp-instance", "node-a", "--gcp-network", "vpc-a", "--gcp-compute-endpoint", "http://127.0.0.1:9/compute/v1/")
	if err != nil || len(acts) != 1 || acts[0].Name() != "gcp-route" {
		t.Fatalf("got %v, %v", acts, err)
	}
	if md.Requests() != before {
		t.Error("metadata was read although every value was given")
	}
}

// The whole wiring: flags → GCE metadata (project, zone, instance,
// network) → both actions against the Compute Engine fake (a loopback
// http endpoint: no credentials).
func TestGCPFlagsEndToEnd(t *testing.T) {
	md := gcpTestMetadata(t)
	f := cloudtest.NewGCE("lbhc-test-1")
	t.Cleanup(f.Close)
	f.AddNetwork("vpc-a")
	f.AddInstance(cloudtest.GCEInstance{Name: "node-a", Zone: "z-a", NICs: []cloudtest.GCENIC{{Name: "nic0", Network: "vpc-a"}}})
	f.AddInstance(cloudtest.GCEInstance{Name: "node-b", Zone: "z-b", NICs: []cloudtest.GCENIC{{Name: "nic0", Network: "vpc-a", Aliases: []string{"10.0.0.5/32"}}}})
	t.Setenv("LBHC_GCP_ALIAS_IP", "true")
	acts, err := runGCPFlags(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}, "--gcp-metadata-endpoint", md.URL(),
		"--gcp-compute-endpoint", f.URL(), "--gcp-route", "--gcp-operation-poll-interval", "10ms")
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].Name() != "gcp-route" || acts[1].Name() != "gcp-alias-ip" {
		t.Fatalf("actions = %v", acts)
	}
	ev := cloud.Event{Role: "leader", Term: 1, NodeID: "a", Leader: "a",
		VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}, Valid: func() bool { return true }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, a := range acts {
		if err := a.Promote(ctx, ev); err != nil {
			t.Fatalf("%s: %v", a.Name(), err)
		}
	}
	if rs := f.Routes(); len(rs) != 1 || rs[0].DestRange != "10.0.0.5/32" {
		t.Errorf("routes = %+v", rs)
	}
	if in, _ := f.Instance("z-a", "node-a"); len(in.NICs[0].Aliases) != 1 || in.NICs[0].Aliases[0] != "10.0.0.5/32" {
		t.Errorf("node-a aliases = %v", in.NICs[0].Aliases)
	}
	if in, _ := f.Instance("z-b", "node-b"); len(in.NICs[0].Aliases) != 0 {
		t.Errorf("node-b aliases = %v", in.NICs[0].Aliases)
	}
}

// Without --gcp-metadata-endpoint the standard GCE_METADATA_HOST variable
// (host:port) points the metadata look-up at the fake.
func TestGCPFlagsMetadataHostVariable(t *testing.T) {
	md := gcpTestMetadata(t)
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(md.URL(), "http://"))
	acts, err := runGCPFlags(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}, "--gcp-alias-ip",
		"--gcp-compute-endpoint", "http://127.0.0.1:9/compute/v1/")
	if err != nil || len(acts) != 1 || acts[0].Name() != "gcp-alias-ip" {
		t.Fatalf("got %v, %v", acts, err)
	}
	if md.Requests() == 0 {
		t.Fatal("GCE_METADATA_HOST was not used for the metadata look-up")
	}
}
