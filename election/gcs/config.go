package gcs

import (
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/lbhc/lbhc/configerr"
)

// maxObjectName is Cloud Storage's limit on an object name (bytes, UTF-8).
const maxObjectName = 1024

// ValidateBucket checks a bucket name against Cloud Storage's naming rules:
// 3-63 characters (up to 222 with dots, each dot-separated part at most
// 63) of lowercase letters, digits, '-', '_' and '.', starting and ending
// with a letter or digit; not an IPv4 address; not starting with "goog" nor
// containing "google".
func ValidateBucket(b string) error {
	bad := func(why string) error {
		return configerr.New("gcs-bucket", "%q is not a Cloud Storage bucket name: %s", b, why)
	}
	switch {
	case b == "":
		return configerr.New("gcs-bucket", "required with --election gcs")
	case len(b) < 3 || len(b) > 222 || (len(b) > 63 && !strings.Contains(b, ".")):
		return bad("3-63 characters (up to 222 with dots)")
	case !alnum(b[0]) || !alnum(b[len(b)-1]):
		return bad("must start and end with a lowercase letter or a digit")
	case strings.HasPrefix(b, "goog") || strings.Contains(b, "google"):
		return bad(`must not start with "goog" or contain "google"`)
	}
	for _, c := range []byte(b) {
		if !alnum(c) && c != '-' && c != '_' && c != '.' {
			return bad("only lowercase letters, digits, '-', '_' and '.'")
		}
	}
	for part := range strings.SplitSeq(b, ".") {
		if part == "" || len(part) > 63 {
			return bad("each dot-separated part is 1-63 characters")
		}
	}
	if a, err := netip.ParseAddr(b); err == nil && a.Is4() {
		return bad("must not be an IP address")
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// ObjectName is the lease object's name, prefix + leaseName, checked
// against Cloud Storage's object naming rules (1-1024 bytes of UTF-8, no
// carriage return or line feed, not "." or "..", not under
// .well-known/acme-challenge/); lbhc also refuses other control
// characters, which Google advises against. A fault is reported against
// --gcs-object-prefix.
func ObjectName(prefix, leaseName string) (string, error) {
	name := prefix + leaseName
	bad := func(why string) (string, error) {
		return "", configerr.New("gcs-object-prefix", "%q + lease name %q is not a usable object name: %s", prefix, leaseName, why)
	}
	switch {
	case leaseName == "":
		return bad("empty lease name")
	case len(name) > maxObjectName:
		return bad("longer than 1024 bytes")
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case name == "." || name == "..":
		return bad(`"." and ".." are not object names`)
	case strings.HasPrefix(name, ".well-known/acme-challenge/"):
		return bad("names under .well-known/acme-challenge/ are reserved")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad("control characters (carriage return, line feed, ...) are not allowed")
		}
	}
	return name, nil
}

// ParseEndpoint checks --gcs-endpoint: an http or https base URL with a
// host and no query. An emulator's host[:port] without a scheme (the form
// of STORAGE_EMULATOR_HOST) is taken as http://host[:port].
func ParseEndpoint(flag, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", configerr.New(flag, "%q is not an http(s) base URL such as https://storage.googleapis.com or http://127.0.0.1:4443", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// NeedsCredentials reports whether requests to endpoint carry an access
// token: yes for Cloud Storage and any https endpoint (a Private Service
// Connect endpoint), no for a plain-http one (an emulator), so a token
// never crosses the network in clear text.
func NeedsCredentials(endpoint string) bool {
	return endpoint == "" || strings.HasPrefix(endpoint, "https://")
}
