package gcpauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config says where to look for credentials. The zero value of each field
// means the standard place.
type Config struct {
	Scope string // OAuth scope the tokens are for (required)
	// MetadataHost is host[:port] of the metadata server; "" reads
	// GCE_METADATA_HOST, then metadata.google.internal.
	MetadataHost string
	HTTPClient   *http.Client // nil: a client with a 30 s timeout
	// Getenv reads the environment (os.Getenv when nil); tests replace it.
	Getenv func(string) string
}

// DefaultTokenURL is Google's OAuth 2.0 token endpoint, used for an
// authorized_user file without token_uri.
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// metadataTokenPath is the metadata server's token endpoint for the VM's
// default service account.
const metadataTokenPath = "/computeMetadata/v1/instance/service-accounts/default/token"

// keyFile is the part of a credentials JSON file lbhc reads.
type keyFile struct {
	Type string `json:"type"`
	// service_account
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
	// authorized_user
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
}

// Find resolves Application Default Credentials: the file named by
// GOOGLE_APPLICATION_CREDENTIALS, else gcloud's application_default
// credentials file if it exists, else the metadata server. It reads files
// only; the first network call happens at the first Token. An unreadable or
// invalid file is an error naming it.
func Find(cfg Config) (*Source, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Scope == "" {
		return nil, errors.New("gcpauth: no scope")
	}
	if p := getenv("GOOGLE_APPLICATION_CREDENTIALS"); p != "" {
		return FromFile(p, cfg.Scope, hc)
	}
	if p := wellKnownFile(getenv); p != "" {
		if _, err := os.Stat(p); err == nil {
			return FromFile(p, cfg.Scope, hc)
		}
	}
	host := cfg.MetadataHost
	if host == "" {
		host = getenv("GCE_METADATA_HOST")
	}
	if host == "" {
		host = "metadata.google.internal"
	}
	return Metadata(host, cfg.Scope, hc), nil
}

// wellKnownFile is where `gcloud auth application-default login` writes.
func wellKnownFile(getenv func(string) string) string {
	if d := getenv("CLOUDSDK_CONFIG"); d != "" {
		return filepath.Join(d, "application_default_credentials.json")
	}
	if d := getenv("APPDATA"); d != "" { // Windows
		return filepath.Join(d, "gcloud", "application_default_credentials.json")
	}
	if d := getenv("HOME"); d != "" {
		return filepath.Join(d, ".config", "gcloud", "application_default_credentials.json")
	}
	return ""
}

// Metadata is a Source of the VM's default service account's tokens from
// the metadata server at host (host[:port], plain HTTP as on every VM).
func Metadata(host, scope string, hc *http.Client) *Source {
	u := "http://" + host + metadataTokenPath + "?scopes=" + url.QueryEscape(scope)
	return newSource("metadata server "+host, func(ctx context.Context) (token, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return token{}, err
		}
		// Required by the metadata server; it refuses requests without it
		// (and any with X-Forwarded-For), so a proxy cannot fetch tokens.
		req.Header.Set("Metadata-Flavor", "Google")
		return doToken(hc, req, time.Now())
	})
}

// FromFile is a Source for a credentials JSON file: "service_account" (a
// key: signed JWT exchanged for a token) or "authorized_user" (a refresh
// token). Other types (external_account, impersonation) are refused with
// an error naming the file.
func FromFile(path, scope string, hc *http.Client) (*Source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gcp credentials file: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("gcp credentials file %s: not JSON: %w", path, err)
	}
	switch f.Type {
	case "service_account":
		key, err := parseKey(f.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("gcp credentials file %s: private_key: %w", path, err)
		}
		if f.ClientEmail == "" || f.TokenURI == "" {
			return nil, fmt.Errorf("gcp credentials file %s: service_account without client_email or token_uri", path)
		}
		return newSource("service account key "+path, func(ctx context.Context) (token, error) {
			now := time.Now()
			jwt, err := signJWT(key, f.PrivateKeyID, f.ClientEmail, scope, f.TokenURI, now)
			if err != nil {
				return token{}, err
			}
			return postForm(ctx, hc, f.TokenURI, url.Values{
				"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
				"assertion":  {jwt},
			}, now)
		}), nil
	case "authorized_user":
		if f.ClientID == "" || f.ClientSecret == "" || f.RefreshToken == "" {
			return nil, fmt.Errorf("gcp credentials file %s: authorized_user without client_id, client_secret or refresh_token", path)
		}
		tokenURL := f.TokenURI
		if tokenURL == "" {
			tokenURL = DefaultTokenURL
		}
		return newSource("authorized user "+path, func(ctx context.Context) (token, error) {
			return postForm(ctx, hc, tokenURL, url.Values{
				"grant_type":    {"refresh_token"},
				"client_id":     {f.ClientID},
				"client_secret": {f.ClientSecret},
				"refresh_token": {f.RefreshToken},
			}, time.Now())
		}), nil
	}
	return nil, fmt.Errorf("gcp credentials file %s: type %q is not supported (service_account or authorized_user)", path, f.Type)
}

func newSource(kind string, fetch func(context.Context) (token, error)) *Source {
	return &Source{kind: kind, fetch: fetch, now: time.Now}
}

func postForm(ctx context.Context, hc *http.Client, u string, form url.Values, now time.Time) (token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return token{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return doToken(hc, req, now)
}

// parseKey reads the PEM RSA key of a service-account key file (PKCS #8,
// or PKCS #1 in old files).
func parseKey(s string) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key")
		}
		return rk, nil
	}
	return x509.ParsePKCS1PrivateKey(blk.Bytes)
}

// jwtLifetime is the assertion's validity; Google accepts at most an hour.
const jwtLifetime = time.Hour

// signJWT builds the RS256 assertion of the service-account flow (RFC 7523):
// issued by the account, for the token endpoint, asking for scope.
func signJWT(key *rsa.PrivateKey, kid, email, scope, aud string, now time.Time) (string, error) {
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid,omitempty"`
	}{"RS256", "JWT", kid})
	if err != nil {
		return "", err
	}
	// iat a little in the past: the token endpoint refuses assertions
	// "from the future" when this host's clock runs ahead.
	iat := now.Add(-10 * time.Second).Unix()
	claims, err := json.Marshal(struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Iat   int64  `json:"iat"`
		Exp   int64  `json:"exp"`
	}{email, scope, aud, iat, iat + int64(jwtLifetime/time.Second)})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the JWT: %w", err)
	}
	return signed + "." + enc.EncodeToString(sig), nil
}
