package cloudtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AWSIMDS is a fake of the EC2 Instance Metadata Service in IMDSv2-only
// mode ("HttpTokens: required"). It is written from AWS's public
// documentation of IMDSv2 and the instance-metadata categories; it is not
// AWS code and only approximates the real service.
//
// Protocol: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds
// (1..21600) returns a token (400 without or with a bad TTL, 403 when the
// request carries X-Forwarded-For, 405 for other methods); GET
// /latest/meta-data/<path> and /latest/dynamic/instance-identity/document
// need a live token in X-aws-ec2-metadata-token, else 401; unknown paths
// 404. Faults keys: "token", "meta-data", "dynamic".
type AWSIMDS struct {
	Faults AWSFaults

	srv *httptest.Server

	mu     sync.Mutex
	meta   map[string]string
	doc    map[string]any
	tokens map[string]time.Time // token -> expiry
}

// AWSInstanceData is what the fake IMDS reports about "this" instance.
type AWSInstanceData struct {
	InstanceID, MAC, ENIID, PrivateIP, VPCID, SubnetID, Region, AZ string
}

// NewAWSIMDS starts the fake on a loopback port. Close it when done.
func NewAWSIMDS(d AWSInstanceData) *AWSIMDS {
	f := &AWSIMDS{tokens: map[string]time.Time{}}
	mac := "network/interfaces/macs/" + d.MAC + "/"
	f.meta = map[string]string{
		"instance-id":                 d.InstanceID,
		"local-ipv4":                  d.PrivateIP,
		"mac":                         d.MAC,
		"placement/region":            d.Region,
		"placement/availability-zone": d.AZ,
		"network/interfaces/macs/":    d.MAC + "/",
		mac + "interface-id":          d.ENIID,
		mac + "vpc-id":                d.VPCID,
		mac + "subnet-id":             d.SubnetID,
		mac + "local-ipv4s":           d.PrivateIP,
		mac + "device-number":         "0",
		"services/domain":             "amazonaws.com",
		"services/partition":          "aws",
	}
	f.doc = map[string]any{
		"accountId": "123456789012", "architecture": "x86_64", "availabilityZone": d.AZ,
		"imageId": "ami-0123456789abcdef0", "instanceId": d.InstanceID, "instanceType": "t3.micro",
		"pendingTime": "2026-01-01T00:00:00Z", "privateIp": d.PrivateIP, "region": d.Region, "version": "2017-09-30",
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the endpoint for imds.Options.Endpoint.
func (f *AWSIMDS) URL() string { return f.srv.URL }

// Close stops the server.
func (f *AWSIMDS) Close() { f.srv.Close() }

// SetMetadata sets (value != "") or removes a meta-data path.
func (f *AWSIMDS) SetMetadata(path, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if value == "" {
		delete(f.meta, path)
		return
	}
	f.meta[path] = value
}

// ExpireTokens invalidates every issued token: the next GET gets 401 and a
// correct client fetches a new token.
func (f *AWSIMDS) ExpireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

const (
	imdsTokenHeader    = "X-Aws-Ec2-Metadata-Token"
	imdsTokenTTLHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
)

func (f *AWSIMDS) serve(w http.ResponseWriter, r *http.Request) {
	op := "meta-data"
	switch {
	case r.URL.Path == "/latest/api/token":
		op = "token"
	case strings.HasPrefix(r.URL.Path, "/latest/dynamic/"):
		op = "dynamic"
	}
	fault, ok := f.Faults.begin(r, op)
	if !ok {
		return
	}
	if fault != nil {
		if fault.Status == 0 {
			awsHijackClose(w)
			return
		}
		http.Error(w, fault.Message, fault.Status)
		return
	}
	if op == "token" {
		f.serveToken(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	f.mu.Lock()
	exp, ok := f.tokens[r.Header.Get(imdsTokenHeader)]
	f.mu.Unlock()
	if !ok || time.Now().After(exp) {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	if op == "dynamic" {
		if r.URL.Path != "/latest/dynamic/instance-identity/document" {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		b, _ := json.MarshalIndent(f.doc, "", "  ")
		w.Write(b)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")
	f.mu.Lock()
	v, ok := f.meta[path]
	f.mu.Unlock()
	if !ok || !strings.HasPrefix(r.URL.Path, "/latest/meta-data/") {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	w.Write([]byte(v))
}

func (f *AWSIMDS) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	// IMDS refuses token requests that went through a proxy.
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(imdsTokenTTLHeader))
	if err != nil || ttl < 1 || ttl > 21600 {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	b := make([]byte, 24)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	f.mu.Lock()
	f.tokens[tok] = time.Now().Add(time.Duration(ttl) * time.Second)
	f.mu.Unlock()
	w.Header().Set(imdsTokenTTLHeader, strconv.Itoa(ttl))
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(tok))
}
