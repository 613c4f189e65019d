package aws

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

func newAWSIMDSFixture(t *testing.T) (*cloudtest.AWSIMDS, *imds.Client) {
	t.Helper()
	f := cloudtest.NewAWSIMDS(cloudtest.AWSInstanceData{
		InstanceID: "i-0abc", MAC: "0a:1b:2c:3d:4e:5f", ENIID: "eni-a", PrivateIP: "10.0.1.10",
		VPCID: "vpc-1", SubnetID: "subnet-1", Region: "ap-northeast-1", AZ: "ap-northeast-1a",
	})
	t.Cleanup(f.Close)
	// As flags_aws.go builds it: IMDSv2 only, no fallback to v1.
	c := imds.New(imds.Options{Endpoint: f.URL(), EnableFallback: aws.FalseTernary})
	return f, c
}

var awsNeedAll = AWSNeed{InstanceID: true, ENIID: true, PrivateIP: true, VPCID: true, Region: true}

func TestDiscoverAWSInstance(t *testing.T) {
	f, c := newAWSIMDSFixture(t)
	got, err := DiscoverAWSInstance(context.Background(), c, AWSInstance{}, awsNeedAll)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	want := AWSInstance{InstanceID: "i-0abc", MAC: "0a:1b:2c:3d:4e:5f", ENIID: "eni-a", PrivateIP: netip.MustParseAddr("10.0.1.10"), VPCID: "vpc-1", Region: "ap-northeast-1"}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if n := f.Faults.Calls("token"); n != 1 {
		t.Errorf("token requests = %d, want 1 (token reused)", n)
	}
}

func TestDiscoverAWSInstanceOverridesSkipLookups(t *testing.T) {
	f, c := newAWSIMDSFixture(t)
	have := AWSInstance{InstanceID: "i-x", ENIID: "eni-x", PrivateIP: netip.MustParseAddr("10.9.9.9"), VPCID: "vpc-x", Region: "eu-west-1"}
	got, err := DiscoverAWSInstance(context.Background(), c, have, awsNeedAll)
	if err != nil || got != have {
		t.Fatalf("got %+v, %v", got, err)
	}
	if n := f.Faults.Calls("*"); n != 0 {
		t.Fatalf("%d IMDS requests, want 0", n)
	}
	// Only what is needed is fetched.
	got, err = DiscoverAWSInstance(context.Background(), c, AWSInstance{}, AWSNeed{PrivateIP: true})
	if err != nil || got.PrivateIP.String() != "10.0.1.10" || got.ENIID != "" {
		t.Fatalf("got %+v, %v", got, err)
	}
	// nil client is fine when nothing is missing, an error otherwise.
	if _, err := DiscoverAWSInstance(context.Background(), nil, have, awsNeedAll); err != nil {
		t.Fatalf("nil client, nothing missing: %v", err)
	}
	if _, err := DiscoverAWSInstance(context.Background(), nil, AWSInstance{}, AWSNeed{Region: true}); err == nil {
		t.Fatal("nil client with a missing field: no error")
	}
}

func TestDiscoverAWSInstanceTokenExpiry(t *testing.T) {
	f, c := newAWSIMDSFixture(t)
	if _, err := DiscoverAWSInstance(context.Background(), c, AWSInstance{}, AWSNeed{InstanceID: true}); err != nil {
		t.Fatal(err)
	}
	f.ExpireTokens() // next GET answers 401; the client must fetch a new token
	got, err := DiscoverAWSInstance(context.Background(), c, AWSInstance{}, AWSNeed{ENIID: true})
	if err != nil || got.ENIID != "eni-a" {
		t.Fatalf("after token expiry: %+v, %v", got, err)
	}
	if n := f.Faults.Calls("token"); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
}

func TestDiscoverAWSInstanceErrors(t *testing.T) {
	t.Run("missing path", func(t *testing.T) {
		f, c := newAWSIMDSFixture(t)
		f.SetMetadata("network/interfaces/macs/0a:1b:2c:3d:4e:5f/vpc-id", "")
		_, err := DiscoverAWSInstance(context.Background(), c, AWSInstance{}, AWSNeed{VPCID: true})
		if err == nil || !strings.HasPrefix(err.Error(), "instance metadata network/interfaces/macs/0a:1b:2c:3d:4e:5f/vpc-id: ") || !strings.Contains(err.Error(), "404") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad ip", func(t *testing.T) {
		f, c := newAWSIMDSFixture(t)
		f.SetMetadata("local-ipv4", "not-an-ip")
		_, err := DiscoverAWSInstance(context.Background(), c, AWSInstance{}, AWSNeed{PrivateIP: true})
		if err == nil || !strings.HasPrefix(err.Error(), "instance metadata local-ipv4: ") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("token refused, no v1 fallback", func(t *testing.T) {
		f, c := newAWSIMDSFixture(t)
		f.Faults.FailNext("token", 10, cloudtest.AWSFault{Status: 403, Message: "Forbidden"})
		_, err := DiscoverAWSInstance(context.Background(), c, AWSInstance{}, AWSNeed{InstanceID: true})
		if err == nil {
			t.Fatal("no error although no token could be had")
		}
		if n := f.Faults.Calls("meta-data"); n != 0 {
			t.Fatalf("%d tokenless (IMDSv1) GETs, want 0", n)
		}
	})
}

// The fake itself: the IMDSv2 rules a client depends on.
func TestAWSIMDSFakeProtocol(t *testing.T) {
	f, _ := newAWSIMDSFixture(t)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		want   int
	}{
		{"get without token", "GET", "/latest/meta-data/instance-id", nil, 401},
		{"get with junk token", "GET", "/latest/meta-data/instance-id", map[string]string{"X-aws-ec2-metadata-token": "junk"}, 401},
		{"put without ttl", "PUT", "/latest/api/token", nil, 400},
		{"put ttl too big", "PUT", "/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "21601"}, 400},
		{"put via proxy", "PUT", "/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.1"}, 403},
		{"get token", "GET", "/latest/api/token", nil, 405},
		{"put ok", "PUT", "/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "60"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := awsIMDSStatus(t, f.URL(), tc.method, tc.path, tc.hdr); got != tc.want {
				t.Fatalf("status = %d, want %d", got, tc.want)
			}
		})
	}
}

func awsIMDSStatus(t *testing.T, base, method, path string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
