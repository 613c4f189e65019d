//go:build linux

package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// HTTPClient returns a client whose connections are made from namespace ns.
func HTTPClient(t *testing.T, ns string, timeout time.Duration) *http.Client {
	dial := dialer(t, ns)
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
				return dial(addr, timeout)
			},
		},
	}
}

// fetch returns the node name the test page at url answers with, or ""
// on any error.
func fetch(c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil || resp.StatusCode != 200 {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(b)), "node=")
}
