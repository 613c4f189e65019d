// Package leasecost counts the lease requests lbhc's election backends make
// and prices them (scripts/bench/leasecost.sh, the README cost table). It
// is not part of the product.
package leasecost

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"google.golang.org/grpc"
)

// Counter counts requests by operation name.
type Counter struct {
	mu sync.Mutex
	n  map[string]int
}

// NewCounter returns an empty counter.
func NewCounter() *Counter { return &Counter{n: map[string]int{}} }

// Add counts one request of op.
func (c *Counter) Add(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

// Reset returns the counts so far and starts again from zero.
func (c *Counter) Reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.n
	c.n = map[string]int{}
	return old
}

// Proxy is a counting reverse proxy on loopback in front of one emulator.
type Proxy struct {
	URL string // the proxy's base URL: http://127.0.0.1:PORT
	srv *http.Server
}

// AzureOp names a Blob service request by its REST operation, as the
// billing categories do (learn.microsoft.com: "Map each REST operation to
// a price"). A conditional GET answered 304 is GetBlob304.
func AzureOp(r *http.Request, status int) string {
	q := r.URL.Query()
	comp, restype := q.Get("comp"), q.Get("restype")
	switch {
	case restype == "container" && r.Method == http.MethodPut:
		return "CreateContainer"
	case restype == "container":
		return "GetContainerProperties"
	case comp == "lease":
		return "LeaseBlob." + strings.ToLower(r.Header.Get("x-ms-lease-action"))
	case comp == "metadata" && r.Method == http.MethodPut:
		return "SetBlobMetadata"
	case comp != "":
		return r.Method + "?comp=" + comp
	case r.Method == http.MethodHead:
		return "GetBlobProperties"
	case r.Method == http.MethodGet && status == http.StatusNotModified:
		return "GetBlob304"
	case r.Method == http.MethodGet:
		return "GetBlob"
	case r.Method == http.MethodPut:
		return "PutBlob"
	case r.Method == http.MethodDelete:
		return "DeleteBlob"
	}
	return r.Method
}

// DynamoDBOp names a DynamoDB request by its X-Amz-Target action.
func DynamoDBOp(r *http.Request, _ int) string {
	t := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		return t[i+1:]
	}
	return "unknown"
}

// GCSOp names a Cloud Storage JSON API request by its method, as the
// operation classes do (cloud.google.com/storage/pricing#operations-by-class):
// objects.insert (an upload) is Class A, objects.get (metadata or media)
// Class B, objects.delete free.
func GCSOp(r *http.Request, _ int) string {
	switch {
	case strings.HasPrefix(r.URL.Path, "/upload/storage/v1/") && r.Method == http.MethodPost:
		return "objects.insert"
	case strings.Contains(r.URL.Path, "/o/") && r.Method == http.MethodGet:
		return "objects.get"
	case strings.Contains(r.URL.Path, "/o/") && r.Method == http.MethodDelete:
		return "objects.delete"
	}
	return r.Method + " " + r.URL.Path
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// StartProxy forwards every request to target and counts it in c under
// the name op gives it.
func StartProxy(target string, c *Counter, op func(*http.Request, int) string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	ln, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: "http://" + ln.Addr().String()}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sr := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(sr, r)
		c.Add(op(r, sr.status))
	})}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

// GRPCCounting returns dial options that count every unary call and every
// message a client sends on a stream (etcd's KeepAliveOnce opens a stream
// and sends one request on it), by full method name.
func GRPCCounting(c *Counter) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			c.Add(shortMethod(method))
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				return s, err
			}
			return countingStream{s, c, shortMethod(method)}, nil
		}),
	}
}

type countingStream struct {
	grpc.ClientStream
	c  *Counter
	op string
}

func (s countingStream) SendMsg(m any) error {
	s.c.Add(s.op)
	return s.ClientStream.SendMsg(m)
}

// shortMethod turns /etcdserverpb.KV/Range into KV.Range.
func shortMethod(m string) string {
	m = strings.TrimPrefix(m, "/")
	if i := strings.IndexByte(m, '.'); i >= 0 {
		m = m[i+1:]
	}
	return strings.Replace(m, "/", ".", 1)
}
