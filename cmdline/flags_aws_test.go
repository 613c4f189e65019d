package cmdline

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
	"github.com/urfave/cli/v2"
)

// runAWSFlags parses args with awsFlags and calls awsActions.
func runAWSFlags(t *testing.T, args ...string) ([]cloud.Action, error) {
	t.Helper()
	var acts []cloud.Action
	app := &cli.App{
		Name:           "lbhc",
		Flags:          awsFlags(),
		Writer:         io.Discard,
		ErrWriter:      io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			s, err := awsParse(c)
			if err != nil {
				return err
			}
			acts, err = awsActions(c.Context, c, s, slog.New(slog.NewTextHandler(io.Discard, nil)), cloud.NewMetrics(nil))
			return err
		},
	}
	err := app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	return acts, err
}

// awsIsolate keeps the developer's AWS environment out of the test.
func awsIsolate(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/lbhc-test")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/lbhc-test")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLBHCTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "lbhc-test-secret")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
}

func TestAWSFlagsNoneSet(t *testing.T) {
	awsIsolate(t)
	imds := cloudtest.NewAWSIMDS(cloudtest.AWSInstanceData{InstanceID: "i-1"})
	defer imds.Close()
	acts, err := runAWSFlags(t, "--aws-imds-endpoint", imds.URL())
	if err != nil || acts != nil {
		t.Fatalf("got %v, %v; want nil, nil", acts, err)
	}
	if n := imds.Faults.Calls("*"); n != 0 {
		t.Fatalf("%d metadata requests without any AWS action", n)
	}
}

func TestAWSFlagsInvalid(t *testing.T) {
	awsIsolate(t)
	imds := cloudtest.NewAWSIMDS(cloudtest.AWSInstanceData{})
	defer imds.Close()
	base := []string{"--aws-imds-endpoint", imds.URL()}
	r53 := []string{"--route53-zone-id", "Z1", "--route53-record", "db.example.com", "--route53-address", "10.0.0.1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--route53-record", "db.example.com"}, "invalid --route53-zone-id: required with --route53-record"},
		{[]string{"--route53-zone-id", "Z1"}, "invalid --route53-record: required with --route53-zone-id"},
		{[]string{"--route53-zone-id", "Z1", "--route53-record", "db example.com"}, `invalid --route53-record: "db example.com" has an invalid character ' '`},
		{append(r53[:4:4], "--route53-address", "10.0.0.300"), `invalid --route53-address: "10.0.0.300" is not an IP address`},
		{append(r53, "--route53-ttl", "1500ms"), "invalid --route53-ttl: must be a whole number of seconds, at least 1s, got 1.5s"},
		{append(r53, "--route53-ttl", "0s"), "invalid --route53-ttl: must be a whole number of seconds, at least 1s, got 0s"},
		{append(r53, "--route53-sync-tries", "0"), "invalid --route53-sync-tries: must be at least 1, got 0"},
		{append(r53, "--route53-sync-interval", "0s"), "invalid --route53-sync-interval: must be positive, got 0s"},
		{[]string{"--route53-ttl", "20s"}, "invalid --route53-ttl: needs --route53-zone-id and --route53-record"},
		{[]string{"--ec2-create-route"}, "invalid --ec2-create-route: needs --ec2-route or --ec2-route-table"},
		{[]string{"--ec2-disable-source-dest-check"}, "invalid --ec2-disable-source-dest-check: needs --ec2-route or --ec2-route-table"},
		{[]string{"--ec2-route-table", "table-1"}, `invalid --ec2-route-table: "table-1" is not a route table id (rtb-...)`},
		{[]string{"--eip-allocation-id", "203.0.113.7"}, `invalid --eip-allocation-id: "203.0.113.7" is not an allocation id (eipalloc-...)`},
		{append(r53, "--aws-retries", "0"), "invalid --aws-retries: must be at least 1, got 0"},
		{append(r53, "--aws-verify-tries", "0"), "invalid --aws-verify-tries: must be at least 1, got 0"},
		{append(r53, "--aws-call-timeout", "0s"), "invalid --aws-call-timeout: must be positive, got 0s"},
		{append(r53, "--aws-private-ip", "x"), `invalid --aws-private-ip: "x" is not an IP address`},
		{[]string{"--ec2-route", "--aws-eni-id", "i-123"}, `invalid --aws-eni-id: "i-123" is not a eni-... id`},
		{append(r53, "--aws-region", "eu-west-1", "--aws-endpoint", "ftp://x"), `invalid --aws-endpoint: "ftp://x" is not an http(s) URL`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := runAWSFlags(t, append(base, tc.args...)...)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant  %s", err, tc.want)
			}
			if code := exitCode(err); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
		})
	}
}

func TestAWSFlagsMetadataUnavailable(t *testing.T) {
	awsIsolate(t)
	imds := cloudtest.NewAWSIMDS(cloudtest.AWSInstanceData{})
	imds.Close() // nothing listens there any more
	_, err := runAWSFlags(t, "--aws-imds-endpoint", imds.URL(), "--aws-region", "eu-west-1", "--aws-call-timeout", "1s",
		"--route53-zone-id", "Z1", "--route53-record", "db.example.com")
	if err == nil || !strings.HasPrefix(err.Error(), "invalid --aws-private-ip: not set, and instance metadata failed") || exitCode(err) != 2 {
		t.Fatalf("err = %v (exit %d)", err, exitCode(err))
	}
}

// All three actions from flags, identity from the IMDSv2 fake, the real SDK
// clients against the EC2 and Route 53 fakes behind one --aws-endpoint.
func TestAWSFlagsEndToEnd(t *testing.T) {
	awsIsolate(t)
	imds := cloudtest.NewAWSIMDS(cloudtest.AWSInstanceData{InstanceID: "i-a", MAC: "0a:00:00:00:00:01", ENIID: "eni-a",
		PrivateIP: "10.0.1.10", VPCID: "vpc-1", Region: "eu-central-1"})
	defer imds.Close()
	ec2 := cloudtest.NewEC2()
	defer ec2.Close()
	r53 := cloudtest.NewRoute53()
	defer r53.Close()
	r53.AddZone("Z1", "example.com")
	ec2.AddENI(cloudtest.EC2ENI{ID: "eni-a", VPCID: "vpc-1", InstanceID: "i-a", PrivateIPs: []string{"10.0.1.10"}, SourceDestCheck: true})
	ec2.AddENI(cloudtest.EC2ENI{ID: "eni-b", VPCID: "vpc-1", InstanceID: "i-b", PrivateIPs: []string{"10.0.2.10"}})
	ec2.AddRouteTable("rtb-1", "vpc-1", cloudtest.EC2Route{Destination: "192.168.100.10/32", NetworkInterfaceID: "eni-b"})
	ec2.AddAddress(cloudtest.EC2Address{AllocationID: "eipalloc-1", PublicIP: "203.0.113.7"})
	// One endpoint for both services, as --aws-endpoint gives: Route 53's
	// REST paths vs. EC2's POST to "/".
	r53URL, _ := url.Parse(r53.URL())
	ec2URL, _ := url.Parse(ec2.URL())
	mux := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/2013-04-01/") {
			httputil.NewSingleHostReverseProxy(r53URL).ServeHTTP(w, r)
			return
		}
		httputil.NewSingleHostReverseProxy(ec2URL).ServeHTTP(w, r)
	}))
	defer mux.Close()

	acts, err := runAWSFlags(t, "--aws-imds-endpoint", imds.URL(), "--aws-endpoint", mux.URL,
		"--route53-zone-id", "Z1", "--route53-record", "db.example.com", "--route53-sync-interval", "10ms",
		"--ec2-route", "--ec2-disable-source-dest-check", "--eip-allocation-id", "eipalloc-1",
		"--aws-retry-interval", "10ms", "--aws-verify-interval", "10ms")
	if err != nil {
		t.Fatalf("awsActions: %v", err)
	}
	var names []string
	for _, a := range acts {
		names = append(names, a.Name())
	}
	if got := strings.Join(names, ","); got != "route53,ec2-route,eip" {
		t.Fatalf("actions = %s", got)
	}
	ev := cloud.Event{Role: "leader", Term: 1, NodeID: "a", Leader: "a",
		VIPs: []netip.Prefix{netip.MustParsePrefix("192.168.100.10/32")}, Valid: func() bool { return true }}
	for _, a := range acts {
		if err := a.Promote(context.Background(), ev); err != nil {
			t.Fatalf("%s Promote: %v", a.Name(), err)
		}
	}
	if r, ok := r53.Record("Z1", "db.example.com", "A"); !ok || r.Values[0] != "10.0.1.10" || r.TTL != 10 {
		t.Errorf("record = %+v, %v", r, ok)
	}
	if r, _ := ec2.Route("rtb-1", "192.168.100.10/32"); r.NetworkInterfaceID != "eni-a" {
		t.Errorf("route -> %+v", r)
	}
	if e, _ := ec2.ENI("eni-a"); e.SourceDestCheck {
		t.Error("source/dest check still on")
	}
	if a, _ := ec2.Address("eipalloc-1"); a.NetworkInterfaceID != "eni-a" {
		t.Errorf("EIP on %q", a.NetworkInterfaceID)
	}
	if n := imds.Faults.Calls("token"); n < 1 {
		t.Errorf("no IMDSv2 token request")
	}
}
