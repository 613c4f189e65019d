package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds how much of a response an #expect= check reads (bytes).
const maxBody = 64 << 10

// httpCheck is healthy on a 2xx answer to GET url and, if expect is set,
// when the first maxBody bytes of the body contain expect.
type httpCheck struct {
	name   string
	url    string // without fragment; may hold userinfo (sent as basic auth)
	expect []byte
	client *http.Client
}

func parseHTTP(u *url.URL, opt Options) (Check, error) {
	name := safeName(u)
	if u.Host == "" || u.Hostname() == "" {
		return nil, configErr("check", "%q: missing host", name)
	}
	var expect []byte
	if u.Fragment != "" {
		text, ok := strings.CutPrefix(u.Fragment, "expect=")
		if !ok {
			return nil, configErr("check", "%q: unknown fragment %q (want #expect=text)", name, u.Fragment)
		}
		if text == "" {
			return nil, configErr("check", "%q: empty #expect= text", name)
		}
		expect = []byte(text)
	}
	target := *u
	target.Fragment, target.RawFragment = "", ""
	tr := &http.Transport{
		Proxy:                  nil, // checks target the local application, never a proxy
		DialContext:            (&net.Dialer{}).DialContext,
		TLSClientConfig:        opt.tlsConfig(),
		DisableKeepAlives:      true, // every run proves a fresh connection can be made
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &httpCheck{
		name:   name,
		url:    target.String(),
		expect: expect,
		client: &http.Client{
			Transport: tr,
			// A redirect is reported as the 3xx it is, not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func (c *httpCheck) Name() string { return c.name }

func (c *httpCheck) Run(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return fmt.Errorf("request: %w", unwrapURLError(err))
	}
	req.Header.Set("User-Agent", "lbhc-check")
	resp, err := c.client.Do(req)
	if err != nil {
		// url.Error would repeat the URL with the user name and query.
		return fmt.Errorf("GET: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			return fmt.Errorf("status %s (want 2xx; redirects are not followed)", resp.Status)
		}
		return fmt.Errorf("status %s (want 2xx)", resp.Status)
	}
	if c.expect == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("reading body: %w", unwrapURLError(err))
	}
	if !bytes.Contains(body, c.expect) {
		return fmt.Errorf("body does not contain %q (read %d bytes)", c.expect, len(body))
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
