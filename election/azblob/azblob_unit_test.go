package azblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"

	"github.com/lbhc/lbhc/election"
)

// azUnitKey is a syntactically valid (base64) key; no request leaves the
// process in these tests, the scripted transport answers them.
const azUnitKey = "dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleXRlc3RrZXk="

// scriptedBlob answers blob requests from a function, recording them.
type scriptedBlob struct {
	mu   sync.Mutex
	reqs []string // "op" per request: props, create, acquire, renew, release, break, meta, upload, get
	hdrs []http.Header
	fn   func(op string, req *http.Request) (*http.Response, error)
}

func blobOp(req *http.Request) string {
	q := req.URL.Query()
	switch {
	case q.Get("comp") == "lease":
		return hget(req.Header, "x-ms-lease-action")
	case q.Get("comp") == "metadata":
		return "meta"
	case req.Method == http.MethodHead:
		return "props"
	case req.Method == http.MethodGet:
		return "get"
	case req.Method == http.MethodPut:
		return "upload"
	}
	return req.Method
}

func (s *scriptedBlob) Do(req *http.Request) (*http.Response, error) {
	op := blobOp(req)
	s.mu.Lock()
	s.reqs = append(s.reqs, op)
	s.hdrs = append(s.hdrs, req.Header.Clone())
	s.mu.Unlock()
	return s.fn(op, req)
}

func (s *scriptedBlob) ops() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.reqs, ",")
}

// hget reads a header case-insensitively: the SDK sets x-ms-* headers
// under lowercase (non-canonical) keys.
func hget(h http.Header, key string) string {
	for k, v := range h {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func azResp(req *http.Request, status int, code string, hdr map[string]string) *http.Response {
	h := http.Header{}
	if code != "" {
		h.Set("x-ms-error-code", code)
	}
	for k, v := range hdr {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: req}
}

func scriptedConfig(tr *scriptedBlob) AzureConfig {
	return AzureConfig{
		ConnectionString: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + azUnitKey +
			";BlobEndpoint=http://blob.test.invalid/devstoreaccount1;",
		LeaseName: "l", Transport: tr,
	}
}

func scriptedNative(t *testing.T, tr *scriptedBlob) *nativeBlob {
	t.Helper()
	cc, _, err := scriptedConfig(tr).containerClient()
	if err != nil {
		t.Fatal(err)
	}
	return newNativeBlob(cc.NewBlockBlobClient("l"), "lbhc/l", "n1", 15*time.Second)
}

// hang waits for the request's context: a server that never answers.
func hang(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, req.Context().Err()
}

func TestAzClassifyStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   blobErrKind
	}{
		{409, blobConflict}, {412, blobConflict}, {404, blobNotFound}, {401, blobDenied}, {403, blobDenied},
		{500, blobTransient}, {503, blobTransient}, {429, blobTransient}, {408, blobTransient}, {400, blobTransient},
	} {
		if got := azClassifyStatus(tc.status); got != tc.want {
			t.Errorf("status %d: kind %d, want %d", tc.status, got, tc.want)
		}
	}
}

func TestAzNativeRenewClassification(t *testing.T) {
	const ours = "11111111-1111-4111-8111-111111111111"
	for _, tc := range []struct {
		name    string
		answer  func(req *http.Request) (*http.Response, error)
		lost    bool   // wraps ErrLeaseLost
		errText string // exact message; "" = no error
	}{
		{"ok", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 200, "", map[string]string{"x-ms-lease-id": ours}), nil
		}, false, ""},
		{"409 lease id mismatch", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 409, "LeaseIdMismatchWithLeaseOperation", nil), nil
		}, true, "term 3: lease held by another node: azure blob renew lease lbhc/l: HTTP 409 LeaseIdMismatchWithLeaseOperation"},
		{"409 broken", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 409, "LeaseIsBrokenAndCannotBeRenewed", nil), nil
		}, true, "term 3: lease held by another node: azure blob renew lease lbhc/l: HTTP 409 LeaseIsBrokenAndCannotBeRenewed"},
		{"412", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 412, "ConditionNotMet", nil), nil
		}, true, "term 3: lease held by another node: azure blob renew lease lbhc/l: HTTP 412 ConditionNotMet"},
		{"404 blob deleted", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 404, "BlobNotFound", nil), nil
		}, true, "term 3: lease held by another node: azure blob renew lease lbhc/l: HTTP 404 BlobNotFound"},
		{"200 for a stranger's lease id", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 200, "", map[string]string{"x-ms-lease-id": "22222222-2222-4222-8222-222222222222"}), nil
		}, true, "term 3: renew answered for lease ID 22222222-2222-4222-8222-222222222222, not ours: lease held by another node"},
		{"503 server busy", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 503, "ServerBusy", nil), nil
		}, false, "azure blob renew lease lbhc/l: HTTP 503 ServerBusy"},
		{"500", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 500, "InternalError", nil), nil
		}, false, "azure blob renew lease lbhc/l: HTTP 500 InternalError"},
		{"timeout", hang, false, "azure blob renew lease lbhc/l: timed out: context deadline exceeded"},
		{"connection refused", func(r *http.Request) (*http.Response, error) {
			return nil, &url.Error{Op: "Put", URL: r.URL.String() + "&sig=SECRET", Err: errors.New("connection refused")}
		}, false, "azure blob renew lease lbhc/l: Put http://blob.test.invalid/devstoreaccount1/lbhc/l: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &scriptedBlob{fn: func(op string, r *http.Request) (*http.Response, error) {
				if op != "renew" {
					return nil, fmt.Errorf("unexpected %s", op)
				}
				if got := hget(r.Header, "x-ms-lease-id"); got != ours {
					return nil, fmt.Errorf("renew with lease id %q", got)
				}
				return tc.answer(r)
			}}
			b := scriptedNative(t, tr)
			b.leaseID, b.term = ours, 3
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			st, err := b.TryAcquire(ctx, true)
			if errors.Is(err, election.ErrLeaseLost) != tc.lost {
				t.Fatalf("err %v: lost=%v, want %v", err, !tc.lost, tc.lost)
			}
			if tc.errText == "" {
				if err != nil || !st.Held || st.Term != 3 || st.Leader != "n1" {
					t.Fatalf("got %+v, %v; want held term 3", st, err)
				}
				return
			}
			if err == nil || err.Error() != tc.errText {
				t.Fatalf("error\n %v\nwant\n %s", err, tc.errText)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatal("error shows the URL query")
			}
			if tc.lost && b.leaseID != "" {
				t.Fatal("lease id kept after the lease was lost")
			}
			if !tc.lost && b.leaseID != ours {
				t.Fatal("transient error dropped the lease id")
			}
		})
	}
}

func TestAzNativeAcquire(t *testing.T) {
	props := func(state string, term string) func(r *http.Request) (*http.Response, error) {
		return func(r *http.Request) (*http.Response, error) {
			h := map[string]string{"ETag": `"0x1"`, "x-ms-lease-state": state}
			if term != "" {
				h["x-ms-meta-holder"], h["x-ms-meta-term"] = "other", term
			}
			return azResp(r, 200, "", h), nil
		}
	}
	ok := func(r *http.Request) (*http.Response, error) {
		code := 200 // Set Blob Metadata
		if blobOp(r) == "acquire" {
			code = 201
		}
		return azResp(r, code, "", map[string]string{"ETag": `"0x2"`, "x-ms-lease-id": hget(r.Header, "x-ms-proposed-lease-id")}), nil
	}
	status := func(s int, code string) func(r *http.Request) (*http.Response, error) {
		return func(r *http.Request) (*http.Response, error) { return azResp(r, s, code, nil), nil }
	}
	for _, tc := range []struct {
		name    string
		props   func(*http.Request) (*http.Response, error)
		acquire func(*http.Request) (*http.Response, error)
		meta    func(*http.Request) (*http.Response, error)
		want    election.State
		errText string
		ops     string
		keepTry bool // the proposed lease ID is kept for the next attempt
	}{
		{"free lease", props("available", "4"), ok, ok, election.State{Held: true, Term: 5, Leader: "n1"}, "", "props,acquire,meta", false},
		{"expired lease", props("expired", "7"), ok, ok, election.State{Held: true, Term: 8, Leader: "n1"}, "", "props,acquire,meta", false},
		{"leased: no acquire attempt", props("leased", "4"), nil, nil, election.State{Term: 4, Leader: "other"}, "", "props", false},
		{"breaking: no acquire attempt", props("breaking", "4"), nil, nil, election.State{Term: 4, Leader: "other"}, "", "props", false},
		{"409 someone was faster", props("available", "4"), status(409, "LeaseAlreadyPresent"), nil, election.State{Term: 4}, "", "props,acquire", false},
		{"412 term written meanwhile", props("available", "4"), status(412, "ConditionNotMet"), nil, election.State{Term: 4}, "", "props,acquire", false},
		{"503 on acquire", props("available", "4"), status(503, "ServerBusy"), nil, election.State{},
			"azure blob acquire lease lbhc/l: HTTP 503 ServerBusy", "props,acquire", true},
		{"acquire timeout", props("available", "4"), hang, nil, election.State{},
			"azure blob acquire lease lbhc/l: timed out: context deadline exceeded", "props,acquire", true},
		{"metadata write 500", props("available", "4"), ok, status(500, "InternalError"), election.State{},
			"azure blob write holder metadata lbhc/l: HTTP 500 InternalError", "props,acquire,meta", true},
		{"metadata write 412 lease lost", props("available", "4"), ok, status(412, "LeaseLost"), election.State{Term: 4}, "", "props,acquire,meta", false},
		{"props 503", status(503, "ServerBusy"), nil, nil, election.State{}, "azure blob read lease lbhc/l: HTTP 503 ServerBusy", "props", false},
		{"record-mode blob", func(r *http.Request) (*http.Response, error) {
			return azResp(r, 200, "", map[string]string{"ETag": `"0x1"`, "x-ms-lease-state": "available", "Content-Length": "60"}), nil
		}, nil, nil, election.State{}, "azure blob: blob lbhc/l holds a record-mode lease record; every node of a group must use the same --azure-lease-mode (or use another --lease-name)", "props", false},
		{"bad term metadata", props("available", "x"), nil, nil, election.State{}, `azure blob lbhc/l: metadata term="x" is not a term number`, "props", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &scriptedBlob{fn: func(op string, r *http.Request) (*http.Response, error) {
				switch {
				case op == "props":
					return tc.props(r)
				case op == "acquire" && tc.acquire != nil:
					return tc.acquire(r)
				case op == "meta" && tc.meta != nil:
					return tc.meta(r)
				}
				return nil, fmt.Errorf("unexpected %s", op)
			}}
			b := scriptedNative(t, tr)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			st, err := b.TryAcquire(ctx, false)
			if tc.errText == "" && err != nil || tc.errText != "" && (err == nil || err.Error() != tc.errText) {
				t.Fatalf("error %v, want %q", err, tc.errText)
			}
			if errors.Is(err, election.ErrLeaseLost) {
				t.Fatalf("acquire returned ErrLeaseLost: %v", err)
			}
			if st != tc.want {
				t.Fatalf("state %+v, want %+v", st, tc.want)
			}
			if got := tr.ops(); got != tc.ops {
				t.Fatalf("requests %s, want %s", got, tc.ops)
			}
			if (b.tryID != "") != tc.keepTry {
				t.Fatalf("tryID %q, keep=%v", b.tryID, tc.keepTry)
			}
			if st.Held {
				acq, meta := tr.hdrs[1], tr.hdrs[2]
				id := hget(acq, "x-ms-proposed-lease-id")
				if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
					t.Fatalf("proposed lease id %q is not a v4 UUID", id)
				}
				if hget(acq, "If-Match") != `"0x1"` || hget(acq, "x-ms-lease-duration") != "15" {
					t.Fatalf("acquire If-Match %q duration %q", hget(acq, "If-Match"), hget(acq, "x-ms-lease-duration"))
				}
				if hget(meta, "x-ms-lease-id") != id || hget(meta, "x-ms-meta-holder") != "n1" || hget(meta, "x-ms-meta-term") != fmt.Sprint(tc.want.Term) {
					t.Fatalf("metadata write headers %v", meta)
				}
				if b.leaseID != id {
					t.Fatalf("leaseID %q, want %q", b.leaseID, id)
				}
			}
		})
	}
}

// An acquire whose answer was lost is retried with the same lease ID even
// though the blob now shows as leased: the lease is ours.
func TestAzNativeRetryReusesLeaseID(t *testing.T) {
	var mu sync.Mutex
	failAcquire := true
	tr := &scriptedBlob{fn: func(op string, r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case "props":
			state := "available"
			if !failAcquire {
				state = "leased"
			}
			return azResp(r, 200, "", map[string]string{"ETag": `"0x1"`, "x-ms-lease-state": state}), nil
		case "acquire":
			if failAcquire {
				failAcquire = false // the service took it; the answer is lost
				return nil, errors.New("connection reset")
			}
			return azResp(r, 201, "", map[string]string{"x-ms-lease-id": hget(r.Header, "x-ms-proposed-lease-id")}), nil
		case "meta":
			return azResp(r, 200, "", map[string]string{"ETag": `"0x2"`}), nil
		}
		return nil, fmt.Errorf("unexpected %s", op)
	}}
	b := scriptedNative(t, tr)
	ctx := context.Background()
	if _, err := b.TryAcquire(ctx, false); err == nil {
		t.Fatal("first attempt: no error")
	}
	st, err := b.TryAcquire(ctx, false)
	if err != nil || !st.Held || st.Term != 1 {
		t.Fatalf("second attempt: %+v %v", st, err)
	}
	if got := tr.ops(); got != "props,acquire,props,acquire,meta" {
		t.Fatalf("requests %s", got)
	}
	if a, b := hget(tr.hdrs[1], "x-ms-proposed-lease-id"), hget(tr.hdrs[3], "x-ms-proposed-lease-id"); a == "" || a != b {
		t.Fatalf("lease ids %q then %q: want the same", a, b)
	}
}

func TestAzNativeRelease(t *testing.T) {
	for _, tc := range []struct {
		status  int
		code    string
		errText string
		keepTry bool
	}{
		{200, "", "", false},
		{409, "LeaseIdMismatchWithLeaseOperation", "", false},
		{503, "ServerBusy", "azure blob release lease lbhc/l: HTTP 503 ServerBusy", true},
	} {
		tr := &scriptedBlob{fn: func(op string, r *http.Request) (*http.Response, error) {
			if op != "release" {
				return nil, fmt.Errorf("unexpected %s", op)
			}
			return azResp(r, tc.status, tc.code, nil), nil
		}}
		b := scriptedNative(t, tr)
		if err := b.Release(context.Background()); err != nil || tr.ops() != "" {
			t.Fatalf("release without a grant: %v, requests %q", err, tr.ops())
		}
		b.leaseID = "L"
		err := b.Release(context.Background())
		if tc.errText == "" && err != nil || tc.errText != "" && (err == nil || err.Error() != tc.errText) {
			t.Fatalf("%d: error %v, want %q", tc.status, err, tc.errText)
		}
		if b.leaseID != "" || (b.tryID == "L") != tc.keepTry {
			t.Fatalf("%d: leaseID %q tryID %q", tc.status, b.leaseID, b.tryID)
		}
	}
}

func TestAzRecordStoreClassification(t *testing.T) {
	for _, tc := range []struct {
		name     string
		call     string // get, create, update
		status   int
		code     string
		notFound bool
		conflict bool
		errText  string
	}{
		{"get 404 blob", "get", 404, "BlobNotFound", true, false, "lease record not found: azure blob read record lbhc/l: HTTP 404 BlobNotFound"},
		{"get 404 container", "get", 404, "ContainerNotFound", false, false, "azure blob read record lbhc/l: HTTP 404 ContainerNotFound"},
		{"get 503", "get", 503, "ServerBusy", false, false, "azure blob read record lbhc/l: HTTP 503 ServerBusy"},
		{"create 409 exists", "create", 409, "BlobAlreadyExists", false, true, "lease record changed concurrently: azure blob create record lbhc/l: HTTP 409 BlobAlreadyExists"},
		{"create 412", "create", 412, "ConditionNotMet", false, true, "lease record changed concurrently: azure blob create record lbhc/l: HTTP 412 ConditionNotMet"},
		{"create 404 container", "create", 404, "ContainerNotFound", false, false, "azure blob create record lbhc/l: HTTP 404 ContainerNotFound"},
		{"update 412", "update", 412, "ConditionNotMet", false, true, "lease record changed concurrently: azure blob update record lbhc/l: HTTP 412 ConditionNotMet"},
		{"update 409 leased by someone", "update", 409, "LeaseIdMissing", false, true, "lease record changed concurrently: azure blob update record lbhc/l: HTTP 409 LeaseIdMissing"},
		{"update 404 deleted", "update", 404, "BlobNotFound", false, true, "lease record changed concurrently: azure blob update record lbhc/l: HTTP 404 BlobNotFound"},
		{"update 500", "update", 500, "InternalError", false, false, "azure blob update record lbhc/l: HTTP 500 InternalError"},
		{"update 403", "update", 403, "AuthorizationPermissionMismatch", false, false, "azure blob update record lbhc/l: HTTP 403 AuthorizationPermissionMismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &scriptedBlob{fn: func(op string, r *http.Request) (*http.Response, error) {
				return azResp(r, tc.status, tc.code, nil), nil
			}}
			st, err := NewBlobRecordStore(scriptedConfig(tr))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			switch tc.call {
			case "get":
				_, _, err = st.Get(ctx)
			case "create":
				_, err = st.Create(ctx, election.Record{Holder: "n1", Term: 1, TTL: time.Second})
			case "update":
				_, err = st.Update(ctx, election.Record{Holder: "n1", Term: 1, TTL: time.Second}, `"0x1"`)
			}
			if errors.Is(err, election.ErrNotFound) != tc.notFound || errors.Is(err, election.ErrConflict) != tc.conflict {
				t.Fatalf("err %v: notFound=%v conflict=%v", err, errors.Is(err, election.ErrNotFound), errors.Is(err, election.ErrConflict))
			}
			if err == nil || err.Error() != tc.errText {
				t.Fatalf("error\n %v\nwant\n %s", err, tc.errText)
			}
			h := tr.hdrs[0]
			switch tc.call {
			case "create":
				if hget(h, "If-None-Match") != "*" || hget(h, "If-Match") != "" {
					t.Fatalf("create conditions: If-None-Match %q If-Match %q", hget(h, "If-None-Match"), hget(h, "If-Match"))
				}
			case "update":
				if hget(h, "If-Match") != `"0x1"` || hget(h, "If-None-Match") != "" {
					t.Fatalf("update conditions: If-Match %q If-None-Match %q", hget(h, "If-Match"), hget(h, "If-None-Match"))
				}
			}
		})
	}
}

func TestAzBlobRecordCodec(t *testing.T) {
	rec := election.Record{Holder: "node-1", Term: 42, TTL: 5 * time.Second}
	b := encodeBlobRecord(rec)
	if string(b) != `{"holder":"node-1","term":42,"lease_duration_ms":5000}`+"\n" {
		t.Fatalf("encoded %q", b)
	}
	got, err := decodeBlobRecord(b)
	if err != nil || got != rec {
		t.Fatalf("decoded %+v %v", got, err)
	}
	for _, tc := range []struct{ in, err string }{
		{``, "lease record is not valid: empty blob, not an lbhc lease record (a native-mode lease blob? every node of a group must use the same --azure-lease-mode)"},
		{` `, "lease record is not valid: not an lbhc lease record: EOF"},
		{`{"holder":"a","term":-1}`, "lease record is not valid: not an lbhc lease record: json: cannot unmarshal number -1 into Go struct field blobRecord.term of type uint64"},
		{`{"holder":"a","color":"red"}`, `lease record is not valid: not an lbhc lease record: json: unknown field "color"`},
		{`{"holder":"a","lease_duration_ms":-5}`, "lease record is not valid: lease_duration_ms -5 is not in 1..86400000"},
		{`null`, "lease record is not valid: lease_duration_ms 0 is not in 1..86400000"},
		{`{"holder":"a","term":3,"lease_duration_ms":9223372036854775807}`, "lease record is not valid: lease_duration_ms 9223372036854775807 is not in 1..86400000"},
		{strings.Repeat(" ", azMaxRecordSize+1), "lease record is not valid: record larger than 65536 bytes: not an lbhc lease record"},
	} {
		if _, err := decodeBlobRecord([]byte(tc.in)); err == nil || err.Error() != tc.err {
			t.Errorf("decode %.40q: error %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestAzParseLeaseProps(t *testing.T) {
	etag := azcore.ETag(`"0x1"`)
	s := func(v string) *string { return &v }
	st := func(v lease.StateType) *lease.StateType { return &v }
	p, err := parseLeaseProps(&etag, st(lease.StateTypeLeased), map[string]*string{"Holder": s("n2"), "Term": s("9"), "Other": s("x")})
	if err != nil || !p.locked || p.holder != "n2" || p.term != 9 || p.leader() != "n2" {
		t.Fatalf("%+v %v", p, err)
	}
	p, err = parseLeaseProps(&etag, st(lease.StateTypeExpired), map[string]*string{"holder": s("n2"), "term": s("9")})
	if err != nil || p.locked || p.leader() != "" || p.term != 9 {
		t.Fatalf("expired: %+v %v", p, err)
	}
	p, err = parseLeaseProps(&etag, nil, nil)
	if err != nil || p.locked || p.term != 0 {
		t.Fatalf("fresh blob: %+v %v", p, err)
	}
	if _, err := parseLeaseProps(nil, nil, nil); err == nil || err.Error() != "blob properties without an ETag" {
		t.Fatalf("no etag: %v", err)
	}
}

func TestAzureConfigValidate(t *testing.T) {
	cs := "AccountName=a;AccountKey=" + azUnitKey
	for _, tc := range []struct {
		name string
		cfg  AzureConfig
		ttl  time.Duration
		err  string
	}{
		{"native ok", AzureConfig{ConnectionString: cs, LeaseName: "l"}, 15 * time.Second, ""},
		{"native 60s ok", AzureConfig{Mode: "native", ConnectionString: cs, LeaseName: "l"}, 60 * time.Second, ""},
		{"record fast ok", AzureConfig{Mode: "record", ConnectionString: cs, LeaseName: "l"}, 3 * time.Second, ""},
		{"native too short", AzureConfig{ConnectionString: cs, LeaseName: "l"}, 5 * time.Second,
			"invalid --lease-ttl: 5s is not possible with --azure-lease-mode native: an Azure blob lease lasts a whole number of seconds from 15s to 60s (use --azure-lease-mode record for shorter leases)"},
		{"native too long", AzureConfig{ConnectionString: cs, LeaseName: "l"}, 61 * time.Second,
			"invalid --lease-ttl: 1m1s is not possible with --azure-lease-mode native: an Azure blob lease lasts a whole number of seconds from 15s to 60s (use --azure-lease-mode record for shorter leases)"},
		{"native fraction", AzureConfig{ConnectionString: cs, LeaseName: "l"}, 15500 * time.Millisecond,
			"invalid --lease-ttl: 15.5s is not possible with --azure-lease-mode native: an Azure blob lease lasts a whole number of seconds from 15s to 60s (use --azure-lease-mode record for shorter leases)"},
		{"bad mode", AzureConfig{Mode: "fast", ConnectionString: cs, LeaseName: "l"}, 15 * time.Second,
			`invalid --azure-lease-mode: "fast" is not one of native, record`},
		{"nothing configured", AzureConfig{LeaseName: "l"}, 15 * time.Second,
			"invalid --azure-storage-account: no Azure storage configured: set --azure-connection-string (or AZURE_STORAGE_CONNECTION_STRING), --azure-storage-account with --azure-storage-key, or --azure-storage-account / --azure-blob-endpoint for Microsoft Entra ID"},
		{"connection string and account", AzureConfig{ConnectionString: cs, Account: "acct", LeaseName: "l"}, 15 * time.Second,
			"invalid --azure-connection-string: cannot be combined with --azure-storage-account: the connection string already names the account and its credential"},
		{"key without account", AzureConfig{Key: azUnitKey, Endpoint: "https://x.blob.core.windows.net/", LeaseName: "l"}, 15 * time.Second,
			"invalid --azure-storage-key: needs --azure-storage-account (the key signs requests for that account)"},
		{"bad account", AzureConfig{Account: "My_Account", LeaseName: "l"}, 15 * time.Second,
			`invalid --azure-storage-account: "My_Account" is not a storage account name (3-24 lowercase letters and digits)`},
		{"bad endpoint", AzureConfig{Endpoint: "blob.core.windows.net", LeaseName: "l"}, 15 * time.Second,
			"invalid --azure-blob-endpoint: must be an http(s) URL of a blob service without a query, e.g. https://ACCOUNT.blob.core.windows.net/"},
		{"endpoint with SAS", AzureConfig{Endpoint: "https://a.blob.core.windows.net/?sig=SECRET", LeaseName: "l"}, 15 * time.Second,
			"invalid --azure-blob-endpoint: must be an http(s) URL of a blob service without a query, e.g. https://ACCOUNT.blob.core.windows.net/"},
		{"entra over http", AzureConfig{Endpoint: "http://10.0.0.1:10000/acct", LeaseName: "l"}, 15 * time.Second,
			"invalid --azure-blob-endpoint: must use https with Microsoft Entra ID authentication (bearer tokens are never sent in clear text)"},
		{"entra account ok", AzureConfig{Account: "acct01", LeaseName: "l"}, 15 * time.Second, ""},
		{"bad container", AzureConfig{ConnectionString: cs, Container: "LBHC", LeaseName: "l"}, 15 * time.Second,
			`invalid --azure-container: "LBHC" is not a container name (3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit)`},
		{"container double dash", AzureConfig{ConnectionString: cs, Container: "a--b", LeaseName: "l"}, 15 * time.Second,
			`invalid --azure-container: "a--b" is not a container name (3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit)`},
		{"empty lease name", AzureConfig{ConnectionString: cs}, 15 * time.Second, "invalid --lease-name: must not be empty"},
		{"lease name ends in dot", AzureConfig{ConnectionString: cs, LeaseName: "web."}, 15 * time.Second,
			`invalid --lease-name: "web." must not end with a dot or a slash (Azure blob name rules)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate(tc.ttl)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ce *election.ConfigError
			if !errors.As(err, &ce) || ce.ExitCode() != 2 {
				t.Fatalf("error %v (%T) is not a ConfigError", err, err)
			}
			if err.Error() != tc.err {
				t.Fatalf("error\n %s\nwant\n %s", err, tc.err)
			}
		})
	}
}

func TestAzEndpoint(t *testing.T) {
	for _, tc := range []struct {
		cfg  AzureConfig
		want string
	}{
		{AzureConfig{Account: "acct"}, "https://acct.blob.core.windows.net/"},
		{AzureConfig{Endpoint: "https://acct.blob.core.chinacloudapi.cn"}, "https://acct.blob.core.chinacloudapi.cn/"},
		{AzureConfig{Account: "acct", Endpoint: "https://acct.privatelink.blob.core.windows.net/"}, "https://acct.privatelink.blob.core.windows.net/"},
	} {
		if got := tc.cfg.endpoint(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.cfg, got, tc.want)
		}
	}
}

func TestAzBadCredentialsFormat(t *testing.T) {
	_, _, err := AzureConfig{ConnectionString: "garbage", LeaseName: "l"}.containerClient()
	if err == nil || err.Error() != "invalid --azure-connection-string: not a valid storage connection string (want AccountName=...;AccountKey=... or BlobEndpoint=...;SharedAccessSignature=...)" {
		t.Fatalf("garbage connection string: %v", err)
	}
	_, _, err = AzureConfig{Account: "acct", Key: "not base64!", LeaseName: "l"}.containerClient()
	if err == nil || err.Error() != "invalid --azure-storage-key: not a valid storage account key (want the base64 key from the portal)" {
		t.Fatalf("bad key: %v", err)
	}
}

func TestAzLeaseID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, err := azLeaseID()
	if err != nil || !re.MatchString(a) {
		t.Fatalf("%q %v", a, err)
	}
	if b, _ := azLeaseID(); a == b {
		t.Fatal("two lease ids alike")
	}
}

// fakeCred is a TokenCredential with a fixed answer.
type fakeCred struct{ err error }

func (f fakeCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Microsoft Entra ID start-up failures: no identity on the machine, and an
// identity without a data role, are configuration errors naming the flag.
func TestAzEntraStartupErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    AzureConfig
		cred   fakeCred
		status int
		code   string
		want   string
	}{
		{"no identity", AzureConfig{Account: "acct01"}, fakeCred{azidentity.NewCredentialUnavailableError("managed identity: no identity assigned")}, 0, "",
			"invalid --azure-storage-account: Microsoft Entra ID token: managed identity: no identity assigned (assign a managed identity to this VM, or configure another credential DefaultAzureCredential supports)"},
		{"no data role", AzureConfig{Endpoint: "https://acct01.blob.core.windows.net/"}, fakeCred{}, 403, "AuthorizationPermissionMismatch",
			"invalid --azure-blob-endpoint: the Microsoft Entra identity lacks a data role such as Storage Blob Data Contributor on the container (azure blob read lbhc/l: HTTP 403 AuthorizationPermissionMismatch)"},
		{"host not found", AzureConfig{Account: "acct01"}, fakeCred{}, -1, "",
			"invalid --azure-storage-account: host not found (azure blob read lbhc/l: Head https://acct01.blob.core.windows.net/lbhc/l: lookup acct01.blob.core.windows.net: no such host)"},
		{"service down", AzureConfig{Account: "acct01"}, fakeCred{}, 503, "ServerBusy",
			"azure blob storage for --azure-storage-account not usable at start-up: azure blob read lbhc/l: HTTP 503 ServerBusy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &scriptedBlob{fn: func(op string, r *http.Request) (*http.Response, error) {
				if tc.status == -1 {
					return nil, &url.Error{Op: "Head", URL: r.URL.String(), Err: &net.DNSError{Err: "no such host", Name: r.URL.Host, IsNotFound: true}}
				}
				if tc.status == 0 {
					return nil, errors.New("request sent without a token")
				}
				if !strings.HasPrefix(hget(r.Header, "Authorization"), "Bearer ") {
					return nil, errors.New("no bearer token")
				}
				return azResp(r, tc.status, tc.code, nil), nil
			}}
			cfg := tc.cfg
			cfg.LeaseName, cfg.Transport, cfg.Credential = "l", tr, tc.cred
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := NewAzureBlob(ctx, cfg, "n1", 15*time.Second)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error\n %v\nwant\n %s", err, tc.want)
			}
			var ce *election.ConfigError
			if isCfg := errors.As(err, &ce); isCfg != strings.HasPrefix(tc.want, "invalid --") {
				t.Fatalf("config error: %v", isCfg)
			}
		})
	}
}

// Both Azure modes can be observed without acquiring (election.Peeker).
var (
	_ election.Peeker  = (*nativeBlob)(nil)
	_ election.Backend = (*nativeBlob)(nil)
)
