// Package check runs the local application checks that gate leadership: a
// node whose checks fail should not hold the VIP, and a node that has not
// proven its application healthy should not campaign for it.
//
// # Check specifications (--check)
//
//	tcp://host:port               healthy when a TCP connection opens
//	http://host[:port]/path       healthy on a 2xx answer to GET
//	https://host[:port]/path      the same over TLS (see Options)
//	http://…#expect=text          …and the first 64 KiB of the body contain text
//	exec:/path/to/script args     healthy when the command exits 0
//
// HTTP checks do not follow redirects (a 3xx answer is unhealthy: a redirect
// to a login page is not a healthy application), ignore HTTP_PROXY (checks
// target the local application) and open a new connection on every run.
// Userinfo (http://user:pass@host/) is sent as basic auth. The #expect=
// fragment is never sent to the server; its text is taken verbatim after
// percent-decoding, so a literal '%' is written %25.
//
// exec: words are split like a POSIX shell splits a simple command (quotes
// and backslashes) but no shell runs and nothing is expanded; see splitWords.
// A command without a slash is looked up in PATH when the check is parsed.
// The command inherits lbhc's environment, gets no stdin, and on timeout
// its whole process group is killed (Unix). The last line of its output is
// reported as the error when it fails.
//
// # Names and secrets
//
// A check's Name (used in logs, metrics labels and /status) is its spec with
// the URL userinfo removed, query values replaced by "xxxxx" and the
// #fragment dropped. exec: names are the spec as written: do not put secrets
// on a check's command line (they are visible in ps too); pass them through
// files or the environment.
//
// # Health
//
// See Monitor for rise/fall and the initial state.
package check

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"strings"

	"github.com/lbhc/lbhc/configerr"
)

// Check is one application check.
type Check interface {
	// Name identifies the check in logs, metrics and /status. It never
	// contains URL userinfo.
	Name() string
	// Run performs the check once; nil means healthy. Run honours ctx's
	// deadline and returns promptly when ctx ends.
	Run(ctx context.Context) error
}

// ConfigError is invalid configuration: lbhc exits with status 2 and prints
// the message, which names the flag. It is lbhc's one configuration error
// type.
type ConfigError = configerr.Error

var configErr = configerr.New

// Options apply to every https:// check.
type Options struct {
	// RootCAs verifies servers' certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// InsecureSkipVerify accepts any server certificate (self-signed
	// application certificates on localhost). It still uses TLS.
	InsecureSkipVerify bool
}

func (o Options) tlsConfig() *tls.Config {
	return &tls.Config{
		RootCAs:            o.RootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // explicit operator choice (--check-tls-skip-verify)
		MinVersion:         tls.VersionTLS12,
	}
}

// LoadCAFile reads PEM certificates for Options.RootCAs. Errors are
// ConfigErrors naming flag (e.g. "check-tls-ca-file").
func LoadCAFile(flag, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, configErr(flag, "%v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, configErr(flag, "%s contains no PEM certificates", path)
	}
	return pool, nil
}

// Parse parses one --check value with default Options (system CA roots).
// Errors are *ConfigError naming --check.
func Parse(spec string) (Check, error) { return ParseWith(spec, Options{}) }

const wantSchemes = "want tcp://, http://, https:// or exec:"

// ParseWith parses one --check value. Errors are *ConfigError naming --check
// and quoting the spec without its userinfo.
func ParseWith(spec string, opt Options) (Check, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, configErr("check", "empty check (%s)", wantSchemes)
	}
	if hasPrefixFold(spec, "exec:") {
		return parseExec(spec)
	}
	if !strings.Contains(spec, "://") {
		return nil, configErr("check", "%q: missing scheme (%s)", spec, wantSchemes)
	}
	u, err := url.Parse(spec)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole spec, userinfo included
		}
		return nil, configErr("check", "%q: %v", stripUserinfo(spec), err)
	}
	switch u.Scheme {
	case "tcp":
		return parseTCP(u)
	case "http", "https":
		return parseHTTP(u, opt)
	default:
		return nil, configErr("check", "%q: unsupported scheme %q (%s)", stripUserinfo(spec), u.Scheme, wantSchemes)
	}
}

// SplitSpecs splits one --check value (or $LBHC_CHECK) holding several
// checks. A newline always separates; a ';' separates only when, after
// optional blanks, the next check's scheme follows (tcp://, http://,
// https://, exec:), so "exec:/bin/sh -c 'a; b'" and URLs with ';' stay whole.
// Blank parts are dropped.
func SplitSpecs(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		start := 0
		for i := 0; i < len(line); i++ {
			if line[i] != ';' {
				continue
			}
			rest := strings.TrimLeft(line[i+1:], " \t")
			if startsWithScheme(rest) {
				out = appendNonBlank(out, line[start:i])
				start = i + 1
			}
		}
		out = appendNonBlank(out, line[start:])
	}
	return out
}

func startsWithScheme(s string) bool {
	for _, p := range []string{"tcp://", "http://", "https://", "exec:"} {
		if hasPrefixFold(s, p) {
			return true
		}
	}
	return false
}

func appendNonBlank(out []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		out = append(out, s)
	}
	return out
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// stripUserinfo removes "user:pass@" from a URL-like string without parsing
// it (it is used on strings url.Parse rejected).
func stripUserinfo(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	authStart := i + 3
	authEnd := len(s)
	if j := strings.IndexAny(s[authStart:], "/?#"); j >= 0 {
		authEnd = authStart + j
	}
	if at := strings.LastIndexByte(s[authStart:authEnd], '@'); at >= 0 {
		return s[:authStart] + s[authStart+at+1:]
	}
	return s
}

// safeName renders a parsed URL for logs, metrics and /status: no userinfo,
// query values redacted, no fragment.
func safeName(u *url.URL) string {
	v := *u
	v.User = nil
	v.Fragment, v.RawFragment = "", ""
	if v.RawQuery != "" {
		q := v.Query()
		for k := range q {
			for i := range q[k] {
				q[k][i] = "xxxxx"
			}
		}
		v.RawQuery = q.Encode()
	}
	return v.String()
}
