//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbhc/lbhc/cloud/cloudtest"
)

// opsKitSeries must all be in the scrape before it is taken: labelled
// series appear only once their part has done something (a failed
// promotion, an answered probe, a failed check, a cloud operation).
var opsKitSeries = []string{
	`lbhc_is_leader 1`,
	`lbhc_group_info{group="opskit",node="n1"} 1`,
	`lbhc_promote_failures_total{`,
	`lbhc_probe_connections_total{`,
	`lbhc_probe_answers_total{`,
	`lbhc_check_failures_total{`,
	`lbhc_check_healthy{`,
	`lbhc_cloud_action_duration_seconds_bucket{action="route53"`,
	`lbhc_cloud_action_verified{action="eip"} 1`,
	`lbhc_vip_present{`,
	`lbhc_lease_renew_duration_seconds_bucket{`,
	`lbhc_failsafe_active 0`,
	`lbhc_peer_up{peer="n2"} 0`,
	`lbhc_peer_messages_refused_total{reason="bad_mac"} 0`,
}

// opsKitJunk is a datagram too short to be a peer message: the peer
// channel refuses it as malformed, so the scrape has a refusal counted.
const opsKitJunk = "not a peer message"

// TestOpsKitScrape runs lbhc with every part that can run here enabled —
// file lease, VIP on a namespace NIC, an application check, a promote hook
// (failing once), Route 53 / EC2 route / Elastic IP actions against the
// cloudtest fakes, the probe watchdog, the peer channel with failsafe (one
// peer on the namespace's loopback that never answers, junk sent to the
// peer port) — drives each part once, and
// scrapes /metrics. With LBHC_OPSKIT_SCRAPE set it writes the scrape there
// for tools/opscheck, which checks every metric name the dashboard and the
// alert rules use against it (scripts/e2e/test_opskit.sh).
func TestOpsKitScrape(t *testing.T) {
	netw := NewNet(t, "n1")
	h := netw.Hosts[0]
	var imds *cloudtest.AWSIMDS
	var ec2 *cloudtest.EC2
	var r53 *cloudtest.Route53
	var mux *httptest.Server
	// The fakes listen on the namespace's loopback, where lbhc runs; the
	// proxy in front of them dials from inside the namespace too.
	dial := dialer(t, h.NS)
	nsTransport := &http.Transport{
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) { return dial(addr, time.Second) }}
	t.Cleanup(nsTransport.CloseIdleConnections)
	proxy := func(u *url.URL) *httputil.ReverseProxy {
		p := httputil.NewSingleHostReverseProxy(u)
		p.Transport = nsTransport
		return p
	}
	InNS(t, h.NS, func() {
		imds = cloudtest.NewAWSIMDS(cloudtest.AWSInstanceData{InstanceID: "i-a", MAC: "0a:00:00:00:00:01", ENIID: "eni-a",
			PrivateIP: "10.0.1.10", VPCID: "vpc-1", Region: "eu-central-1"})
		ec2 = cloudtest.NewEC2()
		r53 = cloudtest.NewRoute53()
		r53URL, _ := url.Parse(r53.URL())
		ec2URL, _ := url.Parse(ec2.URL())
		mux = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/2013-04-01/") {
				proxy(r53URL).ServeHTTP(w, r)
				return
			}
			proxy(ec2URL).ServeHTTP(w, r)
		}))
	})
	t.Cleanup(func() { mux.Close(); r53.Close(); ec2.Close(); imds.Close() })
	r53.AddZone("Z1", "example.com")
	ec2.AddENI(cloudtest.EC2ENI{ID: "eni-a", VPCID: "vpc-1", InstanceID: "i-a", PrivateIPs: []string{"10.0.1.10"}})
	ec2.AddRouteTable("rtb-1", "vpc-1", cloudtest.EC2Route{Destination: "192.168.100.10/32", NetworkInterfaceID: "eni-b"})
	ec2.AddAddress(cloudtest.EC2Address{AllocationID: "eipalloc-1", PublicIP: "203.0.113.7"})
	for k, v := range map[string]string{"AWS_CONFIG_FILE": "/nonexistent/lbhc-test", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/lbhc-test",
		"AWS_ACCESS_KEY_ID": "AKIDLBHCTEST", "AWS_SECRET_ACCESS_KEY": "lbhc-test-secret", "AWS_PROFILE": ""} {
		t.Setenv(k, v)
	}

	dir := t.TempDir()
	once := filepath.Join(dir, "hook-failed-once")
	// The group's peer key (one line of at least 32 bytes), mode 0600 as
	// lbhc demands of --peer-key-file.
	key := filepath.Join(dir, "peer.key")
	if err := os.WriteFile(key, []byte("b3Bza2l0LXBlZXIta2V5LWZvci10aGUtc2NyYXBlLTAxMjM=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--lease-file", filepath.Join(dir, "ops.lease"), "--lease-name", "opskit",
		"--vip", "192.168.100.10/32", "--vip-interface", "eth0",
		"--check", "tcp://127.0.0.1:8081", "--check-interval", "200ms", "--check-timeout", "100ms",
		"--check-fall", "1", "--check-rise", "1",
		"--on-promote", fmt.Sprintf("test -e %s || { touch %s; exit 1; }", once, once),
		"--probe-idle-timeout", "30s",
		"--aws-imds-endpoint", imds.URL(), "--aws-endpoint", mux.URL, "--aws-region", "eu-central-1",
		"--route53-zone-id", "Z1", "--route53-record", "db.example.com", "--route53-sync-interval", "50ms",
		"--ec2-route", "--eip-allocation-id", "eipalloc-1", "--cloud-monitor-interval", "500ms",
		"--aws-retry-interval", "10ms", "--aws-verify-interval", "10ms",
		// Peers on the namespace's loopback only; n2 never runs, so
		// lbhc_peer_up{peer="n2"} stays 0 and failsafe never activates.
		"--peer", "n1=127.0.0.1:26002,n2=127.0.0.1:26003", "--peer-listen", "127.0.0.1:26002",
		"--peer-key-file", key, "--failsafe", "--failsafe-promise", "2s"}, fastTiming...)
	node := StartNode(t, h, args...)
	// The check fails until the application listens.
	time.Sleep(time.Second)
	StartApp(t, h, 8081)

	// A UDP socket made in the namespace stays there: junk to the peer
	// port, sent from the loop below (a few datagrams, loopback only).
	var junk net.Conn
	InNS(t, h.NS, func() {
		var err error
		if junk, err = net.Dial("udp", "127.0.0.1:26002"); err != nil {
			t.Error(err)
		}
	})
	if junk == nil {
		t.FailNow()
	}
	defer junk.Close()
	client := &http.Client{Timeout: 2 * time.Second, Transport: nsTransport}
	scrape := func() string {
		resp, err := client.Get("http://127.0.0.1:9102/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var text string
	var missing []string
	for end := time.Now().Add(40 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		// The load balancer's probe, on the node's address.
		if c, err := dial(h.IP+":26001", 200*time.Millisecond); err == nil {
			c.Close()
		}
		junk.Write([]byte(opsKitJunk)) // refused as malformed; an unread ICMP error is harmless
		text = scrape()
		missing = missing[:0]
		if !strings.Contains(text, `lbhc_peer_messages_refused_total{reason="malformed"} `) ||
			strings.Contains(text, `lbhc_peer_messages_refused_total{reason="malformed"} 0`+"\n") {
			missing = append(missing, `lbhc_peer_messages_refused_total{reason="malformed"} > 0`)
		}
		for _, s := range opsKitSeries {
			if !strings.Contains(text, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			break
		}
	}
	if len(missing) > 0 {
		t.Fatalf("series missing from /metrics after 40s: %q\n%s", missing, node.Log())
	}
	if r, ok := r53.Record("Z1", "db.example.com", "A"); !ok || len(r.Values) == 0 || r.Values[0] != "10.0.1.10" {
		t.Errorf("route53 record = %+v, %v", r, ok)
	}
	if r, _ := ec2.Route("rtb-1", "192.168.100.10/32"); r.NetworkInterfaceID != "eni-a" {
		t.Errorf("route -> %+v", r)
	}
	if out := os.Getenv("LBHC_OPSKIT_SCRAPE"); out != "" {
		if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("scrape (%d bytes) written to %s", len(text), out)
	}
}
