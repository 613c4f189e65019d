package cloudtest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func awsPost(t *testing.T, u string, form url.Values, auth bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEC2FakeWire(t *testing.T) {
	f := NewEC2()
	defer f.Close()
	f.AddRouteTable("rtb-1", "vpc-1", EC2Route{Destination: "10.0.0.0/16", GatewayID: "local"})
	for _, tc := range []struct {
		name     string
		form     url.Values
		auth     bool
		status   int
		contains []string
	}{
		{"no auth", url.Values{"Action": {"DescribeRouteTables"}, "Version": {"2016-11-15"}}, false, 401,
			[]string{"<Response><Errors><Error><Code>AuthFailure</Code>", "<RequestID>"}},
		{"unknown action", url.Values{"Action": {"RunInstances"}, "Version": {"2016-11-15"}}, true, 400,
			[]string{"<Code>InvalidAction</Code>"}},
		{"describe", url.Values{"Action": {"DescribeRouteTables"}, "Version": {"2016-11-15"}, "RouteTableId.1": {"rtb-1"}}, true, 200,
			[]string{`<DescribeRouteTablesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`,
				"<routeTableSet><item><routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId>",
				"<gatewayId>local</gatewayId><state>active</state><origin>CreateRouteTable</origin>"}},
		{"bad filter", url.Values{"Action": {"DescribeRouteTables"}, "Version": {"2016-11-15"}, "Filter.1.Name": {"tag:x"}, "Filter.1.Value.1": {"y"}}, true, 400,
			[]string{"<Code>InvalidParameterValue</Code><Message>The filter &#39;tag:x&#39; is invalid</Message>"}},
		{"replace local", url.Values{"Action": {"ReplaceRoute"}, "Version": {"2016-11-15"}, "RouteTableId": {"rtb-1"}, "DestinationCidrBlock": {"10.0.0.0/16"}, "GatewayId": {"igw-1"}}, true, 400,
			[]string{"local route and cannot be replaced"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := awsPost(t, f.URL(), tc.form, tc.auth)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body lacks %q:\n%s", c, body)
				}
			}
		})
	}
}

func TestAWSFaultsKnobs(t *testing.T) {
	f := NewEC2()
	defer f.Close()
	form := url.Values{"Action": {"DescribeAddresses"}, "Version": {"2016-11-15"}}
	f.Faults.FailNext("DescribeAddresses", 1, AWSFault{Status: 503, Code: "RequestLimitExceeded", Message: "Request limit exceeded."})
	if s, b := awsPost(t, f.URL(), form, true); s != 503 || !strings.Contains(b, "<Code>RequestLimitExceeded</Code>") {
		t.Fatalf("%d %s", s, b)
	}
	if s, _ := awsPost(t, f.URL(), form, true); s != 200 {
		t.Fatalf("fault not consumed: %d", s)
	}
	f.Faults.DelayNext("*", 1, 150*time.Millisecond)
	start := time.Now()
	awsPost(t, f.URL(), form, true)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("delay not applied: %v", d)
	}
	if n := f.Faults.Calls("DescribeAddresses"); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
}

func TestRoute53FakeWire(t *testing.T) {
	f := NewRoute53()
	defer f.Close()
	f.AddZone("Z1", "example.com")
	f.SetRecord("Z1", R53Record{Name: "b.example.com", Type: "A", TTL: 60, Values: []string{"10.0.0.2"}})
	f.SetRecord("Z1", R53Record{Name: "a.b.example.com", Type: "A", TTL: 60, Values: []string{"10.0.0.3"}})
	f.SetRecord("Z1", R53Record{Name: "a.example.com", Type: "TXT", TTL: 60, Values: []string{`"x"`}})
	f.SetRecord("Z1", R53Record{Name: "a.example.com", Type: "A", TTL: 60, Values: []string{"10.0.0.1"}})
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", f.URL()+path, nil)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Route 53 order: labels right to left, then type.
	s, body := get("/2013-04-01/hostedzone/Z1/rrset?maxitems=3")
	if s != 200 {
		t.Fatalf("%d %s", s, body)
	}
	order := []string{"<Name>a.example.com.</Name><Type>A</Type>", "<Name>a.example.com.</Name><Type>TXT</Type>", "<Name>b.example.com.</Name>"}
	last := -1
	for _, o := range order {
		i := strings.Index(body, o)
		if i <= last {
			t.Fatalf("order wrong at %q:\n%s", o, body)
		}
		last = i
	}
	if !strings.Contains(body, "<IsTruncated>true</IsTruncated><NextRecordName>a.b.example.com.</NextRecordName><NextRecordType>A</NextRecordType>") {
		t.Fatalf("pagination wrong:\n%s", body)
	}
	if s, body := get("/2013-04-01/hostedzone/Z9/rrset"); s != 404 || !strings.Contains(body, "<Code>NoSuchHostedZone</Code>") {
		t.Fatalf("%d %s", s, body)
	}
	if s, body := get("/2013-04-01/change/C404"); s != 404 || !strings.Contains(body, "<Code>NoSuchChange</Code>") {
		t.Fatalf("%d %s", s, body)
	}
}
